import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { YunApiError, YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { widgetsModule } from './widgets.ts';

async function rejects(p: Promise<unknown>, status: number, code?: string, field?: string): Promise<YunApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof YunApiError, `expected YunApiError, got ${String(e)}`);
    assert.equal(e.status, status, `${e.code}: ${e.message}`);
    if (code) assert.equal(e.code, code);
    if (field) assert.equal(e.field, field);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`control plane API on ${engine}`, () => {
    let tc: TestCloud;
    let pgDrop: (() => Promise<void>) | undefined;
    let admin: YunClient;
    let url: string;

    before(async () => {
      let store: string | undefined;
      if (engine === 'postgres') {
        const db = await freshDatabase();
        store = db.url;
        pgDrop = db.drop;
      }
      tc = await startTestCloud({ store, modules: [widgetsModule] });
      admin = tc.admin;
      url = tc.cloud.apiUrl;
      await admin.quotas.set('instances', -1);
    });
    after(async () => {
      await tc?.stop();
      await pgDrop?.();
    });

    test('login, whoami, bad password, health', async () => {
      const w = await admin.whoami();
      assert.equal(w.user, 'admin');
      assert.equal(w.project, 'default');
      await rejects(new YunClient({ endpoint: url }).login('admin', 'wrong-password'), 401, 'Unauthenticated');
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      await rejects(new YunClient({ endpoint: url }).whoami(), 401);
    });

    test('schema validation names the field; malformed JSON is 400; big bodies 413', async () => {
      await rejects(admin.request('POST', '/v1/widgets', { body: { name: 'w1', spec: { size: 1, shape: 'round' } } }), 400, 'ValidationFailed', '/spec/shape');
      await rejects(admin.request('POST', '/v1/widgets', { body: { name: 'w1', spec: { size: '1' } } }), 400, 'ValidationFailed', '/spec/size');
      await rejects(admin.request('POST', '/v1/widgets', { body: { name: 'Bad_Name', spec: { size: 1 } } }), 400, 'ValidationFailed', '/name');
      const bad = await fetch(`${url}/v1/widgets`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: '{"name": ' });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal((await bad.json()).code, 'MalformedJson');
      const big = await fetch(`${url}/v1/widgets`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', spec: { size: 1, color: 'x'.repeat(2 * 1024 * 1024) } }) });
      assert.equal(big.status, 413);
    });

    test('pagination with an opaque cursor and label selectors', async () => {
      const w = admin.resource<{ size: number }>('widgets');
      for (let i = 0; i < 25; i++) await w.create(`page-${String(i).padStart(2, '0')}`, { size: 1 + (i % 5) }, { labels: { tier: i % 2 ? 'odd' : 'even' } });
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const p = await w.list({ limit: 7, cursor, labelSelector: 'tier=odd' });
        assert.ok(p.items.length <= 7);
        seen.push(...p.items.map((x) => x.name));
        cursor = p.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 12);
      assert.deepEqual(seen, [...seen].sort());
      assert.ok(seen.every((n) => Number(n.slice(5)) % 2 === 1));
      const notEven = await w.list({ labelSelector: 'tier!=even', limit: 1000 });
      assert.equal(notEven.items.filter((x) => x.name.startsWith('page-')).length, 12);
      await rejects(w.list({ cursor: 'garbage!' }), 400, 'ValidationFailed', 'cursor');
      for (let i = 0; i < 25; i++) await w.delete(`page-${String(i).padStart(2, '0')}`);
    });

    test('Idempotency-Key: same body replays, different body refused', async () => {
      const w = admin.resource<{ size: number }>('widgets');
      const a = await w.create('idem', { size: 3 }, { idempotencyKey: 'k-1' });
      const b = await w.create('idem', { size: 3 }, { idempotencyKey: 'k-1' });
      assert.equal(a.id, b.id);
      await rejects(w.create('idem', { size: 4 }, { idempotencyKey: 'k-1' }), 422, 'IdempotencyKeyReused');
      await rejects(w.create('idem', { size: 3 }), 409, 'AlreadyExists');
      await w.delete('idem');
    });

    test('optimistic concurrency: a stale version is refused with 409', async () => {
      const w = admin.resource<{ size: number }>('widgets');
      const r = await w.create('occ', { size: 1 });
      const r2 = await w.update('occ', { spec: { size: 2 } }, r.resourceVersion);
      assert.equal(r2.generation, 2);
      await rejects(w.update('occ', { spec: { size: 3 } }, r.resourceVersion), 409, 'StaleGeneration');
      await w.delete('occ');
      await rejects(w.get('occ'), 404, 'NotFound');
    });

    test('tenants are walled: another project answers 404; readers cannot write; revoked tokens 401 at once', async () => {
      await admin.projects.create('team-a');
      await admin.projects.create('team-b');
      const bob = await admin.users.create({ name: 'bob', password: 'bob-password-1', project: 'team-a', role: 'member' });
      assert.equal(bob.password, undefined);
      await admin.users.create({ name: 'rita', password: 'rita-password-1', project: 'team-a', role: 'reader' });
      const b = new YunClient({ endpoint: url, project: 'team-a' });
      await b.login('bob', 'bob-password-1');
      await b.resource('widgets').create('secret', { size: 1 });
      const inB = admin.withProject('team-b');
      await inB.resource('widgets').create('b-only', { size: 1 });
      // bob cannot see team-b at all, nor its widgets: 404, never 403.
      await rejects(b.withProject('team-b').resource('widgets').get('b-only'), 404, 'NotFound');
      await rejects(b.withProject('team-b').resource('widgets').list(), 404, 'NotFound');
      await rejects(b.resource('widgets').get('b-only'), 404, 'NotFound');
      const r = new YunClient({ endpoint: url, project: 'team-a' });
      await r.login('rita', 'rita-password-1');
      assert.equal((await r.resource('widgets').get('secret')).name, 'secret');
      await rejects(r.resource('widgets').create('nope', { size: 1 }), 403, 'Forbidden');
      await rejects(r.resource('widgets').delete('secret'), 403, 'Forbidden');
      // revoke: the very next request is refused
      await b.logout();
      await rejects(b.whoami(), 401, 'TokenExpired');
      await admin.withProject('team-a').resource('widgets').delete('secret');
      await inB.resource('widgets').delete('b-only');
    });

    test('an expired API token is refused', async () => {
      const t = await admin.tokens.create('short', 1);
      const c = new YunClient({ endpoint: url, token: t.token });
      assert.equal((await c.whoami()).user, 'admin');
      await new Promise((r) => setTimeout(r, 1100));
      await rejects(c.whoami(), 401, 'TokenExpired');
      const list = await admin.tokens.list();
      assert.ok(!list.items.some((x) => x.id === t.id));
    });

    test('IAM policies: explicit Deny beats the role Allow; conditions apply', async () => {
      await admin.projects.create('pol');
      await admin.users.create({ name: 'dora', password: 'dora-password-1', project: 'pol', role: 'member' });
      const d = new YunClient({ endpoint: url, project: 'pol' });
      await d.login('dora', 'dora-password-1');
      await d.resource('widgets').create('allowed', { size: 1 });
      const p = admin.withProject('pol');
      await rejects(p.policies.create('broken', { Statement: [{ Effect: 'Maybe', Action: '*' }] }), 400, 'ValidationFailed', '/document/Statement/0/Effect');
      await p.policies.create('no-big', { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'test:CreateWidget', Resource: '*:widget/big-*' }] });
      await p.policies.attach('no-big', 'dora');
      await rejects(d.resource('widgets').create('big-one', { size: 1 }), 403, 'Forbidden');
      await d.resource('widgets').create('small-one', { size: 1 });
      await p.policies.detach('no-big', 'dora');
      await d.resource('widgets').create('big-two', { size: 1 });
      for (const n of ['allowed', 'small-one', 'big-two']) await d.resource('widgets').delete(n);
    });

    test('64 concurrent creates never overshoot a quota', async () => {
      await admin.projects.create('quota');
      const q = admin.withProject('quota');
      await q.quotas.set('instances', 10);
      const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => q.resource('widgets').create(`q-${i}`, { size: 1 })));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(ok, 10);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as YunApiError).code, 'QuotaExceeded');
      const used = (await q.quotas.show()).items.find((i) => i.resource === 'instances')!;
      assert.equal(used.used, 10);
      const all = await q.resource('widgets').listAll();
      assert.equal(all.length, 10);
      for (const w of all) await q.resource('widgets').delete(w.name);
      assert.equal((await q.quotas.show()).items.find((i) => i.resource === 'instances')!.used, 0);
    });

    test('the event stream delivers changes and resumes from an event id', async () => {
      const got: string[] = [];
      let lastId = 0;
      const stop = admin.watch({ kind: 'widget' }, (e) => { got.push(`${e.type}:${e.object.name}`); lastId = e.id; });
      await new Promise((r) => setTimeout(r, 200));
      await admin.resource('widgets').create('ev-1', { size: 1 });
      await admin.resource('widgets').delete('ev-1');
      const end = Date.now() + 5000;
      while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      stop();
      assert.deepEqual(got, ['ADDED:ev-1', 'DELETED:ev-1']);
      const resumed: string[] = [];
      const stop2 = admin.watch({ kind: 'widget', since: lastId - 1 }, (e) => resumed.push(`${e.type}:${e.object.name}`));
      const end2 = Date.now() + 5000;
      while (resumed.length < 1 && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
      stop2();
      assert.deepEqual(resumed, ['DELETED:ev-1']);
    });

    test('OpenAPI document is generated from the route schemas', async () => {
      const doc = await (await fetch(`${url}/v1/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>> };
      assert.equal(doc.openapi, '3.1.0');
      const create = doc.paths['/v1/widgets']!.post!;
      assert.ok(create.requestBody!.content['application/json']!.schema.properties.spec);
      assert.ok(doc.paths['/v1/access-keys']);
    });

    test('access keys are shown once and list without secrets', async () => {
      const k = await admin.accessKeys.create('ci');
      assert.match(k.accessKeyId, /^YK[0-9A-V]{18}$/);
      assert.ok(k.secretAccessKey.length >= 40);
      const list = await admin.accessKeys.list();
      const row = list.items.find((x) => x.accessKeyId === k.accessKeyId) as Record<string, unknown>;
      assert.ok(row);
      assert.equal(row.secretAccessKey, undefined);
      const found = await tc.cloud.ctx.identity.lookupAccessKey(k.accessKeyId);
      assert.equal(found?.secretAccessKey, k.secretAccessKey);
      await admin.accessKeys.delete(k.accessKeyId);
      assert.equal(await tc.cloud.ctx.identity.lookupAccessKey(k.accessKeyId), undefined);
    });
  });
}
