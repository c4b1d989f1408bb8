/**
 * Helpers for the network end-to-end tests: capability gating (skip with a
 * reason, but fail under CI=true) and "instances" made of plain processes run
 * with `ip netns exec` (busybox httpd, wget, nc).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { TestContext } from 'node:test';
import { run } from '../../src/network/drivers/linux/exec.ts';

export function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`required capability missing under CI=true: ${reason}`);
  t.skip(reason);
}

/** Why the linux network e2e tests cannot run here, or undefined. */
export async function linuxNetworkMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const [cmd, args] of [['ip', ['-V']], ['nft', ['--version']]] as const) {
    const r = await run(cmd, [...args], { allowFail: true }).catch(() => undefined);
    if (r?.code !== 0) return `${cmd} is not installed (apt-get install iproute2 nftables)`;
  }
  if (!existsSync('/bin/busybox')) return '/bin/busybox is not installed (apt-get install busybox-static)';
  return undefined;
}

export const nsName = (netnsPath: string | null) => basename(netnsPath ?? '');

/** Runs a command inside a namespace with a hard timeout. */
export async function nsRun(ns: string, args: string[], timeoutSec = 3) {
  return run('timeout', [String(timeoutSec), 'ip', 'netns', 'exec', ns, ...args], { allowFail: true });
}

/** HTTP GET from inside a namespace; returns the body or undefined on failure. */
export async function nsGet(ns: string, url: string, timeoutSec = 3): Promise<string | undefined> {
  const r = await nsRun(ns, ['/bin/busybox', 'wget', '-q', '-O', '-', url], timeoutSec);
  return r.code === 0 ? r.stdout : undefined;
}

/** Long-running processes started by a test; killed by `stopAll`. */
export class Procs {
  private readonly list: ChildProcess[] = [];

  start(cmd: string, args: string[]): ChildProcess {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    c.on('error', () => {});
    this.list.push(c);
    return c;
  }

  /** busybox httpd in the foreground inside `ns`, serving `dir`. */
  httpd(ns: string, port: number, dir: string): ChildProcess {
    return this.start('ip', ['netns', 'exec', ns, '/bin/busybox', 'httpd', '-f', '-p', String(port), '-h', dir]);
  }

  async stopAll(): Promise<void> {
    for (const c of this.list) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    this.list.length = 0;
  }
}

export async function waitFor(fn: () => Promise<boolean>, timeoutMs = 3000, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Owned-object census: links and namespaces with the prefix, and nft lines in its tables. */
export async function census(prefix: string) {
  const links = (await run('ip', ['-o', 'link'])).stdout.split('\n').filter((l) => new RegExp(`^\\d+: ${prefix}`).test(l));
  const netns = (await run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
  const ruleset = (await run('nft', ['list', 'ruleset'])).stdout;
  const tables = ruleset.split('\n').filter((l) => new RegExp(`^table \\w+ ${prefix}(_nat)? `).test(l));
  return { links: links.length, netns: netns.length, tables: tables.length, rulesetLines: ruleset.split('\n').length, ruleset };
}

/** Last-resort removal of everything carrying `prefix`, used when a test fails midway. */
export async function scrub(prefix: string): Promise<void> {
  for (const ns of (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-`))) {
    const pids = (await run('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
    }
    await run('ip', ['netns', 'del', ns], { allowFail: true });
    await run('rm', ['-rf', `/etc/netns/${ns}`], { allowFail: true });
  }
  for (const d of await readdir('/etc/netns').catch(() => [] as string[])) {
    if (d.startsWith(`${prefix}-`)) await rm(`/etc/netns/${d}`, { recursive: true, force: true });
  }
  const links = (await run('ip', ['-o', 'link'])).stdout.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n): n is string => !!n && n.startsWith(prefix));
  for (const l of links) await run('ip', ['link', 'del', 'dev', l], { allowFail: true });
  for (const [fam, name] of [['inet', prefix], ['ip', `${prefix}_nat`], ['bridge', prefix]]) await run('nft', ['delete', 'table', fam!, name!], { allowFail: true });
}

/**
 * First candidate /24 that no host address or route touches, so a test's
 * stand-in "outside" network can never shadow the host's real uplink.
 */
export async function pickFreeRange(candidates: string[]): Promise<string | undefined> {
  const { overlaps, parseCidr } = await import('../../src/network/ipam.ts');
  const addrs = JSON.parse((await run('ip', ['-4', '-j', 'addr', 'show'])).stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  const routes = JSON.parse((await run('ip', ['-4', '-j', 'route', 'show', 'table', 'all'])).stdout || '[]') as Array<{ dst: string; gateway?: string }>;
  const used = [
    ...addrs.flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)),
    ...routes.filter((r) => r.dst !== 'default').map((r) => (r.dst.includes('/') ? r.dst : `${r.dst}/32`)),
    ...routes.filter((r) => r.gateway).map((r) => `${r.gateway}/32`),
  ].map((c) => parseCidr(c, 'cidr', { strict: false }));
  return candidates.find((c) => !used.some((u) => overlaps(parseCidr(c), u)));
}
