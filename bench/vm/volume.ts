/**
 * Volume throughput inside a container versus the host disk, same run.
 *
 *   node --import tsx bench/vm/volume.ts [--mib 256] [--rounds 5] [--memory-mb 512] [--cpus 1]
 *   npm run bench -- vm/volume.ts
 *
 * What a user gets: a cloud (REST API, block controller, oci driver with
 * real crun), a busybox instance, a `file` volume attached at /data (ext4 on
 * a loop device, cloned into the container's mount namespace). Inside the
 * container (`POST /instances/:name/exec`) busybox dd writes `--mib` MiB of
 * zeros with conv=fsync to a new file, then reads it back after the host's
 * page cache is dropped. The baseline is the SAME busybox binary and script
 * on the host, on a file in the directory where the volume pool lives (the
 * same filesystem). Time is taken by the script itself (adjtimex, µs) around
 * dd, so exec overhead is not counted. A third row runs the container with
 * the loop device switched to the other I/O mode (`losetup --direct-io`), to
 * show what that choice costs. Rows are interleaved per round; medians.
 * qcow2 volumes cannot be mounted in containers, so only `file` is measured.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../../src/block/drivers/common.ts';
import { BlockApi } from '../../src/sdk/block.ts';
import { type BlockCloud, startBlockCloud, waitFor } from '../../test/block/helpers.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const MIB = arg('mib', 256);
const ROUNDS = arg('rounds', 5);
const MEMORY_MB = arg('memory-mb', 512);
const CPUS = arg('cpus', 1);
const BUSYBOX = '/bin/busybox';

/** Prints adjtimex's clock before and after one dd; the caller parses the four numbers. */
const SCRIPT = `set -e
op=$1; f=$2; n=$3
[ "$op" = write ] && rm -f "$f"
adjtimex | grep -E 'tv_u?sec'
if [ "$op" = write ]; then dd if=/dev/zero of="$f" bs=1M count="$n" conv=fsync 2>/dev/null
else dd if="$f" of=/dev/null bs=1M 2>/dev/null; fi
adjtimex | grep -E 'tv_u?sec'`;

/** MiB/s from the script's output. */
function rate(out: string, mib: number): number {
  const n = [...out.matchAll(/tv_u?sec:\s+(\d+)/g)].map((m) => Number(m[1]));
  if (n.length !== 4) throw new Error(`unexpected timing output: ${out}`);
  const secs = n[2]! - n[0]! + (n[3]! - n[1]!) / 1e6;
  return mib / secs;
}

function hostRun(op: string, file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(BUSYBOX, ['sh', '-c', SCRIPT, 'sh', op, file, String(MIB)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d: Buffer) => { out += d; });
    c.stderr.on('data', (d: Buffer) => { err += d; });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`host dd ${op} exited ${code}: ${err}`))));
  });
}

async function dropCaches(): Promise<void> {
  await runTool('sync', []);
  await writeFile('/proc/sys/vm/drop_caches', '3');
}

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function loopDevice(path: string): Promise<string> {
  const dev = (await runTool('losetup', ['-j', path])).split('\n')[0]?.split(':')[0];
  if (!dev) throw new Error(`no loop device for ${path}`);
  return dev;
}

const dioOf = async (dev: string) => (await readFile(`/sys/block/${dev.replace('/dev/', '')}/loop/dio`, 'utf8')).trim() === '1';

async function main() {
  if (process.getuid?.() !== 0) return void console.log('skipped: the volume benchmark needs root (loop mounts, crun)');
  const missing = ['/usr/bin/crun', '/usr/bin/perl', '/usr/sbin/mkfs.ext4', BUSYBOX].filter((p) => !existsSync(p));
  if (missing.length) return void console.log(`skipped: missing ${missing.join(', ')}`);
  let bc: BlockCloud | undefined;
  try {
    bc = await startBlockCloud({ accelerator: 'tcg' });
    const c = bc.c;
    const b = new BlockApi(c);
    await c.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' } } } });
    await waitFor(c, 'images', 'busybox', (x) => x.status.state === 'available', 120_000);
    await c.request('POST', '/v1/instances', { body: { name: 'bench', spec: { image: 'busybox', cpus: CPUS, memoryMb: MEMORY_MB } } });
    const inst = await waitFor(c, 'instances', 'bench', (x) => ['running', 'error'].includes(String(x.status.state)), 60_000);
    if (inst.status.state !== 'running') throw new Error(`instance: ${String(inst.status.reason)}`);
    const sizeGb = Math.max(1, Math.ceil((MIB * 2) / 1024));
    await b.volumes.create('bench', { sizeGb });
    await b.waitVolume('bench', 'available');
    await b.attach('bench', 'bench', { mountPath: '/data' });
    const v = await b.waitVolume('bench', 'in-use', 60_000);
    const volFile = (await bc.block.drivers.file.attachment(v.id)).path;
    const hostFile = join(bc.home, 'block', 'file', 'bench-host.bin');
    const dev = await loopDevice(volFile);
    const attachedDio = await dioOf(dev);
    const exec = async (op: string) => {
      const r = await c.request<{ stdout: string; stderr: string; exitCode: number }>('POST', '/v1/instances/bench/exec', {
        body: { command: ['sh', '-c', SCRIPT, 'sh', op, '/data/bench.bin', String(MIB)], timeoutMs: 300_000 },
      });
      if (r.exitCode !== 0) throw new Error(`container dd ${op} exited ${r.exitCode}: ${r.stderr}`);
      return r.stdout;
    };
    const setDio = (on: boolean) => runTool('losetup', [`--direct-io=${on ? 'on' : 'off'}`, dev]);

    const rows = { host: { w: [] as number[], r: [] as number[] }, yun: { w: [] as number[], r: [] as number[] }, other: { w: [] as number[], r: [] as number[] } };
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of (round % 2 ? ['other', 'yun', 'host'] : ['host', 'yun', 'other']) as Array<keyof typeof rows>) {
        if (k !== 'host') await setDio(k === 'yun' ? attachedDio : !attachedDio);
        const run = k === 'host' ? (op: string) => hostRun(op, hostFile) : exec;
        rows[k].w.push(rate(await run('write'), MIB));
        await dropCaches();
        rows[k].r.push(rate(await run('read'), MIB));
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
    await setDio(attachedDio);
    await rm(hostFile, { force: true });

    const f = (n: number, d = 0) => n.toFixed(d);
    const m = (k: keyof typeof rows, x: 'w' | 'r') => median(rows[k][x]);
    const mode = (dio: boolean) => (dio ? 'direct-io' : 'buffered');
    console.log(`volume throughput — ${ROUNDS} interleaved rounds, medians; ${MIB} MiB, busybox dd bs=1M, write conv=fsync, read after drop_caches`);
    console.log(`container: busybox instance (${MEMORY_MB} MiB, ${CPUS} cpu), file volume ${sizeGb} GiB at /data, loop ${mode(attachedDio)} as yun attached it`);
    for (const [x, name] of [['w', 'write'], ['r', 'read ']] as const) {
      const ratio = m('yun', x) / m('host', x);
      console.log(`seq ${name} MiB/s: container ${f(m('yun', x))}  host disk ${f(m('host', x))}  ratio ${f(ratio, 2)} (target ≥ 0.8)  |  container with loop ${mode(!attachedDio)}: ${f(m('other', x))} (${f(m('other', x) / m('host', x), 2)})`);
    }
    console.log(`  all (MiB/s): ${JSON.stringify(Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, { write: v.w.map((n) => Math.round(n)), read: v.r.map((n) => Math.round(n)) }])))}`);
  } finally {
    await bc?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
