/**
 * VM boot through the whole service versus the raw qemu driver, same run.
 *
 *   node --import tsx bench/vm/service.ts [--rounds 2]
 *
 * Service: `POST /v1/instances` (type vm, tiny-vm) on a real cloud →
 * scheduler → compute controller → routing driver → qemu driver, timed to
 * the boot marker read through `GET /v1/instances/:name/logs` (polled every
 * 100 ms). Driver: `QemuDriver.create` + `start` on the same image, timed to
 * the marker in `readLog` (same polling). Rounds are interleaved; the
 * accelerator is whatever the probe picks (TCG here: expect 10–30 s and big
 * swings on a shared 2-core host). Target: service ≤ 1.2× driver + 300 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from '../../src/compute/drivers/qemu/driver.ts';
import { TINY_VM_BOOT_MARKER } from '../../src/compute/images/vm/index.ts';
import { compute } from '../../src/sdk/compute.ts';
import { startBlockCloud, waitFor } from '../../test/block/helpers.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  min ${Math.min(...xs).toFixed(0)}  max ${Math.max(...xs).toFixed(0)}  (n=${xs.length})`;

async function until(read: () => Promise<string>, text: string, timeoutMs = 180_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await read().catch(() => '')).includes(text)) {
    if (Date.now() > end) throw new Error(`no '${text}' within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rounds = arg('--rounds', 2);
const bc = await startBlockCloud();
const work = await mkdtemp(join(tmpdir(), 'yun-bench-vmsvc-'));
const service: number[] = [];
const driver: number[] = [];
try {
  const c = bc.c;
  await c.request('POST', '/v1/images', { body: { name: 'tiny-vm', spec: { source: { build: 'tiny-vm' } } } });
  const img = await waitFor(c, 'images', 'tiny-vm', (x) => ['available', 'error'].includes(String(x.status.state)), 300_000);
  if (img.status.state !== 'available') throw new Error(`tiny-vm: ${String(img.status.reason)}`);
  const imageRootfs = join(bc.home, 'images', (img as unknown as { id: string }).id, 'rootfs');
  await bc.vm.ready;
  // the same accelerator as the service, without a second KVM probe inside the timed runs
  const raw = new QemuDriver({ stateDir: join(work, 'qemu'), accelerator: bc.vm.caps?.accelerator ?? 'tcg' });
  console.log(`accelerator: ${bc.vm.caps?.accelerator}${bc.vm.caps?.warnings.length ? ` (${bc.vm.caps.warnings.join('; ')})` : ''}`);
  for (let i = 0; i < rounds; i++) {
    const name = `bench${i}`;
    let t0 = performance.now();
    await c.request('POST', '/v1/instances', { body: { name, spec: { image: 'tiny-vm', type: 'vm', cpus: 1, memoryMb: 256 } } });
    await until(() => compute(c).instance(name).logs(), TINY_VM_BOOT_MARKER);
    service.push(performance.now() - t0);
    await c.request('DELETE', `/v1/instances/${name}`);
    await c.resource('instances').waitFor(name, () => false, 60_000).catch(() => undefined);

    const id = `raw-${i}`;
    t0 = performance.now();
    await raw.create({ id, imageRootfs, command: [], limits: { cpus: 1, memoryMb: 256 } });
    await raw.start(id);
    await until(() => raw.readLog(id), TINY_VM_BOOT_MARKER);
    driver.push(performance.now() - t0);
    await raw.delete(id);
    console.log(`round ${i + 1}: service ${service[i]!.toFixed(0)} ms, driver ${driver[i]!.toFixed(0)} ms`);
  }
  console.log(`create → boot marker, through the API: ${fmt(service)}`);
  console.log(`create → boot marker, raw qemu driver: ${fmt(driver)}`);
  const ratio = median(service) / median(driver);
  console.log(`ratio ${ratio.toFixed(2)}x, overhead ${(median(service) - median(driver)).toFixed(0)} ms (target ≤ 1.2x + 300 ms)`);
} finally {
  await bc.stop();
  await rm(work, { recursive: true, force: true });
}
