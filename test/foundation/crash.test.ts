import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { YunClient } from '../../src/sdk/client.ts';

const BIN = join(import.meta.dirname, '../../bin/yun.mjs');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Resolves with the exit code once the child has exited (also when it already has). */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

async function up(home: string, port: number): Promise<{ child: ChildProcess; out: () => string }> {
  let out = '';
  const child = spawn(process.execPath, [BIN, 'up', '--home', home, '--api-port', String(port), '--s3-port', String(await freePort()), '--router-port', String(await freePort()), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const end = Date.now() + 30_000;
  while (!out.includes('Press Ctrl-C')) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`yun up did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, out: () => out };
}

test('yun up: first start prints where to go; kill -9 loses no acknowledged write; SIGTERM exits 0', { timeout: 120_000 }, async () => {
  const home = await mkdtemp(join(tmpdir(), 'yun-crash-'));
  try {
    const port = await freePort();
    const first = await up(home, port);
    assert.match(first.out(), /log in as\s+admin\s+\(password in .*admin-password\)/);
    assert.equal((await stat(join(home, 'credentials'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(home, 'admin-password'))).mode & 0o777, 0o600);
    const creds = parse(await readFile(join(home, 'credentials'), 'utf8')) as Record<string, { token: string }>;
    const c = new YunClient({ endpoint: `http://127.0.0.1:${port}`, token: creds.default!.token });
    assert.equal((await c.whoami()).user, 'admin');
    // The password printed for the admin works.
    const pw = (await readFile(join(home, 'admin-password'), 'utf8')).trim();
    await new YunClient({ endpoint: `http://127.0.0.1:${port}` }).login('admin', pw);

    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `p-${w}-${i}`;
        try {
          await c.projects.create(name);
          acked.push(name);
        } catch { return; }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await exited(first.child);
    assert.ok(acked.length > 10, `only ${acked.length} writes acknowledged before the kill`);

    const second = await up(home, port);
    assert.equal((await readFile(join(home, 'admin-password'), 'utf8')).trim(), pw, 'the second start keeps the admin');
    const names = new Set((await c.projects.list()).items.map((p) => p.name));
    for (const n of acked) assert.ok(names.has(n), `acknowledged project ${n} lost after kill -9`);
    // No half-applied create: every project that exists has its quota rows.
    for (const n of names) {
      const q = await c.withProject(n).quotas.show();
      assert.ok(q.items.length > 5, `project ${n} is missing its quotas`);
    }
    second.child.kill('SIGTERM');
    const code = await exited(second.child);
    assert.equal(code, 0);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
