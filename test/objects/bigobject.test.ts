/**
 * Bounded memory for huge objects: PUT and GET an object of YUN_S3_BIG_GIB
 * GiB (default 1; the 5 GiB with YUN_S3_BIG_GIB=5) through a server
 * in its own process and check its peak RSS stays under 250 MB and the
 * bytes round-trip (MD5 both ways).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { signRequest } from '../../src/objects/s3/sigv4.ts';
import { KEY_A } from './helpers.ts';
import { signed } from './raw.ts';

const A = { accessKeyId: KEY_A.accessKeyId, secretAccessKey: KEY_A.secretAccessKey };
const here = new URL('.', import.meta.url).pathname;
const GIB = Number(process.env.YUN_S3_BIG_GIB ?? 1);

const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

test(`a ${GIB} GiB PUT and GET keep server RSS under 250 MB`, { timeout: 30 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yun-s3-big-'));
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', join(here, 'server-child.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => { out += d; const m = /READY (\d+)/.exec(out); if (m) resolve(`http://127.0.0.1:${m[1]}`); });
      child!.once('exit', (c) => reject(new Error(`server exited ${c}`)));
    });
    assert.equal((await signed(A, 'PUT', `${url}/big`).send()).status, 200);
    const size = GIB * 1024 ** 3;
    const block = randomBytes(1024 * 1024);
    const sentMd5 = createHash('md5');
    const u = new URL(`${url}/big/huge.bin`);
    const h = signRequest({ method: 'PUT', url: u, payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1', credentials: A }).headers;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { ...h, 'content-length': String(size) } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          block.writeUInt32LE(sent / block.length, 0); // every MiB differs
          const chunk = Buffer.from(block);
          sentMd5.update(chunk);
          sent += chunk.length;
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 200);
    const got = createHash('md5');
    let n = 0;
    const g = new URL(`${url}/big/huge.bin`);
    const gh = signRequest({ method: 'GET', url: g, payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1', credentials: A }).headers;
    await new Promise<void>((resolve, reject) => {
      request({ host: g.hostname, port: g.port, path: g.pathname, method: 'GET', headers: gh }, (res) => {
        res.on('data', (d: Buffer) => { got.update(d); n += d.length; });
        res.on('end', resolve);
        res.on('error', reject);
      }).on('error', reject).end();
    });
    assert.equal(n, size);
    assert.equal(got.digest('hex'), sentMd5.digest('hex'));
    const peak = peakRssMb(child.pid!);
    assert.ok(peak < 250, `server peak RSS ${peak.toFixed(0)} MB`);
  } finally {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
