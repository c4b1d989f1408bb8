/**
 * Crash safety: run the server in a child process under concurrent PUT and
 * multipart load, kill -9 it, restart on the same data, and check every
 * acknowledged object byte for byte (old or new content, never torn), and
 * that crash leftovers (temp files, uncommitted blobs) are collected.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { KEY_A } from './helpers.ts';
import { errorCode, send, signed } from './raw.ts';

const A = { accessKeyId: KEY_A.accessKeyId, secretAccessKey: KEY_A.secretAccessKey };
const here = new URL('.', import.meta.url).pathname;

function startChild(dir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'server-child.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('kill -9 under concurrent PUT and multipart load loses no acknowledged write and tears nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yun-s3-kill9-'));
  let { child, url } = await startChild(dir);
  try {
    assert.equal((await signed(A, 'PUT', `${url}/crash`).send()).status, 200);
    const acked = new Map<string, string>(); // key → md5 of the last acknowledged body
    const inflight = new Map<string, string>(); // key → md5 of a body whose PUT had not answered
    let stop = false;
    const writer = async (w: number) => {
      for (let gen = 0; !stop; gen++) {
        const key = `w${w}/k${gen % 5}`;
        const body = randomBytes(gen % 3 === 0 ? 1_500_000 + w * 1000 : 3000 + gen);
        inflight.set(key, md5(body));
        try {
          const r = await signed(A, 'PUT', `${url}/crash/${key}`, { body }).send();
          if (r.status === 200) acked.set(key, md5(body));
        } catch { return; }
      }
    };
    const multipart = async () => {
      for (let n = 0; !stop; n++) {
        const key = `mp/obj${n % 3}`;
        try {
          const init = await signed(A, 'POST', `${url}/crash/${key}?uploads`).send();
          const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.text)![1]!;
          const p1 = randomBytes(5 * 1024 * 1024);
          const p2 = randomBytes(70_000);
          const e1 = (await signed(A, 'PUT', `${url}/crash/${key}?partNumber=1&uploadId=${uploadId}`, { body: p1 }).send()).headers.etag;
          const e2 = (await signed(A, 'PUT', `${url}/crash/${key}?partNumber=2&uploadId=${uploadId}`, { body: p2 }).send()).headers.etag;
          const xml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${e1}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${e2}</ETag></Part></CompleteMultipartUpload>`;
          inflight.set(key, md5(Buffer.concat([p1, p2])));
          const r = await signed(A, 'POST', `${url}/crash/${key}?uploadId=${uploadId}`, { body: xml }).send();
          if (r.status === 200) acked.set(key, md5(Buffer.concat([p1, p2])));
        } catch { return; }
      }
    };
    const load = [...Array.from({ length: 8 }, (_, w) => writer(w)), multipart()];
    await new Promise((r) => setTimeout(r, 2500));
    child.kill('SIGKILL');
    stop = true;
    await Promise.allSettled(load);
    await new Promise((r) => child.once('exit', r).listenerCount('exit') && setTimeout(r, 200));
    assert.ok(acked.size > 10, `load generated acknowledged writes (${acked.size})`);

    ({ child, url } = await startChild(dir));
    for (const [key, want] of acked) {
      const r = await signed(A, 'GET', `${url}/crash/${key}`).send();
      assert.equal(r.status, 200, `${key}: ${errorCode(r)}`);
      const got = md5(r.body);
      assert.ok(got === want || got === inflight.get(key), `${key} holds acknowledged or in-flight bytes, not torn ones`);
    }
    assert.deepEqual(readdirSync(join(dir, 'objects', 'tmp')), [], 'temp files collected at start');
    // Every blob on disk is referenced by a version or a part: uncommitted ones were collected.
    const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
    const refs = new Set<string>();
    for (const r of await store.all<{ blobs: string }>('SELECT blobs FROM objects_versions')) for (const b of JSON.parse(r.blobs)) refs.add(b.id);
    for (const r of await store.all<{ blob: string }>('SELECT blob FROM objects_parts')) refs.add(JSON.parse(r.blob).id);
    await store.close();
    const onDisk: string[] = [];
    for (const shard of readdirSync(join(dir, 'objects', 'blobs'))) onDisk.push(...readdirSync(join(dir, 'objects', 'blobs', shard)));
    for (const id of onDisk) assert.ok(refs.has(id), `orphan blob ${id} left behind`);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

void send;
