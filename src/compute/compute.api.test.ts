/**
 * In-process API tests for compute (fake driver): validation, quotas,
 * project isolation, state guards, flavors, image upload checks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { YunClient } from '../sdk/client.ts';
import { compute } from '../sdk/compute.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from '../../test/compute/helpers.ts';
import { FakeDriver, FakeHost } from './drivers/fake/driver.ts';
import { PostgresUnavailable, freshDatabase } from '../../test/helpers/postgres.ts';
import { requireCapability } from '../../test/helpers/capability.ts';

const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { status?: number; code?: string }) => `${e.status} ${e.code}`);

for (const engine of ['sqlite', 'postgres'] as const) describe(`compute API (${engine})`, () => {
  let cc: ComputeCloud;
  const fake = new FakeHost();
  let tmp = '';
  let drop: (() => Promise<void>) | undefined;
  let missing: string | undefined;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'yun-capi-'));
    let store: string | undefined;
    if (engine === 'postgres') {
      try {
        const db = await freshDatabase();
        store = db.url;
        drop = db.drop;
      } catch (e) {
        if (!(e instanceof PostgresUnavailable)) throw e;
        missing = `PostgreSQL unavailable: ${e.message}`;
        return;
      }
    }
    cc = await startComputeCloud({ store, compute: { driver: new FakeDriver({ host: fake }) } });
    await buildImage(cc.c, 'busybox', 'busybox');
  });
  after(async () => { await cc?.stop(); fake.shutdown(); await drop?.(); await rm(tmp, { recursive: true, force: true }); });
  const need = (t: import('node:test').TestContext) => requireCapability(t, !missing, missing ?? '');

  it('validates: unknown image/flavor are 404s naming them; flavor+cpus, bad env, bad names are 400', async (t) => {
    if (!need(t)) return;
    const create = (spec: Record<string, unknown>, name = 'v1') => cc.c.request('POST', '/v1/instances', { body: { name, spec } });
    await assert.rejects(create({ image: 'nope', flavor: 'm1.tiny' }), /image 'nope' not found/);
    await assert.rejects(create({ image: 'busybox', flavor: 'm9.huge' }), /flavor 'm9.huge' not found/);
    assert.equal(await code(create({ image: 'busybox', flavor: 'm1.tiny', cpus: 1 })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox' })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', flavor: 'm1.tiny', env: { 'A B': 'x' } })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', flavor: 'm1.tiny' }, 'Bad_Name')), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', flavor: 'm1.tiny', bogus: 1 })), '400 ValidationFailed');
  });

  it('flavors: default catalogue, admin-defined, project-private', async (t) => {
    if (!need(t)) return;
    const names = ((await cc.c.request<{ items: { name: string; spec: { vcpus: number; ramMb: number } }[] }>('GET', '/v1/flavors')).items);
    assert.deepEqual(names.find((f) => f.name === 'm1.xlarge')?.spec, { vcpus: 8, ramMb: 16384, diskGb: 160 });
    await cc.c.request('POST', '/v1/flavors', { body: { name: 'c1.private', spec: { vcpus: 2, ramMb: 1024, diskGb: 5, projects: ['default'] } } });
    await cc.c.request('POST', '/v1/projects', { body: { name: 'other' } });
    const bob = await cc.c.users.create({ name: 'bob', password: 'bob-password-123', role: 'member', project: 'other' });
    assert.ok(bob.id);
    const b = new YunClient({ endpoint: cc.c.endpoint, project: 'other' });
    await b.login('bob', 'bob-password-123');
    const seen = (await b.request<{ items: { name: string }[] }>('GET', '/v1/flavors')).items.map((f) => f.name);
    assert.ok(seen.includes('m1.small') && !seen.includes('c1.private'));
    assert.equal(await code(b.request('GET', '/v1/flavors/c1.private')), '404 NotFound');
    assert.equal(await code(b.request('POST', '/v1/flavors', { body: { name: 'x1', spec: { vcpus: 1, ramMb: 64, diskGb: 1 } } })), '403 Forbidden');
    // instances of another project are simply not found
    await compute(cc.c).flavor('c1.private').launch({ name: 'mine', image: 'busybox' });
    assert.equal(await code(b.request('GET', '/v1/instances/mine')), '404 NotFound');
    assert.equal(await code(b.request('DELETE', '/v1/instances/mine')), '404 NotFound');
    assert.equal(await code(b.request('POST', '/v1/instances/mine/actions/stop')), '404 NotFound');
    // the project's own image namespace: bob cannot launch default's private busybox
    assert.equal(await code(b.request('POST', '/v1/instances', { body: { name: 'x', spec: { image: 'busybox', flavor: 'm1.tiny' } } })), '404 NotFound');
  });

  it('quotas are consumed at create and released at delete', async (t) => {
    if (!need(t)) return;
    await cc.c.request('PUT', '/v1/quotas/instances', { body: { limit: 3 } });
    const used = async () => (await cc.c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/quotas')).items.find((q) => q.resource === 'instances')!.used;
    const start = await used();
    const made: string[] = [];
    for (let i = start; i < 3; i++) { await compute(cc.c).launch({ name: `q${i}`, image: 'busybox', cpus: 1, memoryMb: 64 }); made.push(`q${i}`); }
    const over = await code(compute(cc.c).launch({ name: 'qx', image: 'busybox', cpus: 1, memoryMb: 64 }));
    assert.equal(over, '403 QuotaExceeded');
    await cc.c.request('DELETE', `/v1/instances/${made[0]}`);
    for (let i = 0; i < 100 && (await used()) === 3; i++) await new Promise((x) => setTimeout(x, 50));
    assert.equal(await used(), 2);
    await cc.c.request('PUT', '/v1/quotas/instances', { body: { limit: 100 } });
  });

  it('state guards refuse with 409 before any side effect', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc.c).flavor('m1.tiny').launch({ name: 'g1', image: 'busybox', command: ['sleep', '100000'] });
    await vm.waitFor('running', 10_000);
    assert.equal(await code(vm.start()), '409 InvalidState');
    await vm.stop();
    await vm.waitFor('stopped', 10_000);
    assert.equal(await code(vm.exec(['true'])), '409 InvalidState');
    assert.equal(await code(vm.stop()), '409 InvalidState');
    await vm.start();
    await vm.waitFor('running', 10_000);
    await vm.delete();
  });

  it('reboot restarts the workload; rebuild recreates it from the (new) image', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc.c).flavor('m1.tiny').launch({ name: 'rb', image: 'busybox', command: ['sleep', '100000'] });
    const r0 = await vm.waitFor('running', 10_000);
    await vm.reboot();
    const r1 = await cc.c.resource('instances').waitFor('rb', (x) => x.status.state === 'running' && x.status.rebootCount === 1, 10_000);
    assert.notEqual(r1.status.pid, r0.status.pid);
    await cc.c.request('POST', '/v1/images', { body: { name: 'bb2', spec: { source: { build: 'busybox' } } } });
    await cc.c.resource('images').waitFor('bb2', (x) => x.status.state === 'available', 60_000);
    await vm.rebuild('bb2');
    const r2 = await cc.c.resource('instances').waitFor('rb', (x) => x.status.state === 'running' && x.status.rebuildCount === 1, 10_000);
    assert.equal(r2.spec.image, 'bb2');
    assert.match(fake.workloads.get(r0.id)!.spec.imageRootfs, new RegExp(String(r2.spec.imageId)));
    assert.equal(await code(cc.c.request('DELETE', '/v1/images/bb2')), '409 Conflict');
    await vm.delete();
  });

  it('image upload: a rootfs tar imports; `..` members and device nodes are refused', async (t) => {
    if (!need(t)) return;
    const good = join(tmp, 'good.tar');
    const rootfs = join(cc.home, 'images', (await cc.c.request<{ id: string }>('GET', '/v1/images/busybox')).id, 'rootfs');
    execFileSync('tar', ['-C', rootfs, '-cf', good, '.']);
    const img = await compute(cc.c).importImage('uploaded', await readFile(good));
    assert.equal(img.status.state, 'available');
    assert.match(String(img.status.sha256), /^[0-9a-f]{64}$/);
    const py = (script: string, out: string) => execFileSync('/usr/bin/python3', ['-c', script, out]);
    const evil = join(tmp, 'evil.tar');
    py("import tarfile,sys,io\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('../escape');d=b'x';i.size=1;t.addfile(i,io.BytesIO(d))\nt.close()", evil);
    await assert.rejects(compute(cc.c).importImage('evil', await readFile(evil)), /climbs out/);
    const dev = join(tmp, 'dev.tar');
    py("import tarfile,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('dev/sda');i.type=tarfile.BLKTYPE;i.devmajor=8;t.addfile(i)\nt.close()", dev);
    await assert.rejects(compute(cc.c).importImage('dev', await readFile(dev)), /device node/);
    const link = join(tmp, 'link.tar');
    py("import tarfile,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('etc/x');i.type=tarfile.SYMTYPE;i.linkname='../../../../etc/shadow';t.addfile(i)\nt.close()", link);
    await assert.rejects(compute(cc.c).importImage('link', await readFile(link)), /escapes the image root/);
  });
});
