/**
 * Imported VM disk images through the API: a raw disk (a boot sector that
 * prints to COM1) uploaded as `disk`, converted to qcow2 by the image
 * service, booted as a VM instance through the BIOS (no kernel; seconds
 * even under TCG), its serial console read as the instance log. A corrupt
 * qcow2 is refused with qemu-img's reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type BlockCloud, startBlockCloud, waitFor } from '../block/helpers.ts';

const run = promisify(execFile);
const hasTools = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/genisoimage'].every(existsSync);

function bootSector(text: string): Buffer {
  const code = Buffer.concat([
    Buffer.from([0xfc, 0x31, 0xc0, 0x8e, 0xd8]), // cld; xor ax,ax; mov ds,ax
    Buffer.from([0xbe, 0x20, 0x7c]), // mov si, 0x7c20 (message)
    Buffer.from([0xba, 0xf8, 0x03]), // mov dx, 0x3f8 (COM1)
    Buffer.from([0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8]), // lodsb; test al,al; jz +3; out dx,al; jmp lodsb
    Buffer.from([0xf4, 0xeb, 0xfd]), // hlt; jmp hlt
  ]);
  const sector = Buffer.alloc(512);
  code.copy(sector, 0);
  Buffer.from(`${text}\n`).copy(sector, 0x20);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return Buffer.concat([sector, Buffer.alloc(1024 * 1024 - 512)]);
}

describe('imported VM disk images through the API', { timeout: 300_000 }, () => {
  let bc: BlockCloud;
  let work = '';
  let skip = '';
  const ok = (t: import('node:test').TestContext) => requireCapability(t, !skip, skip);

  before(async () => {
    if (!isRoot()) { skip = 'needs root'; return; }
    if (!hasTools) { skip = 'needs qemu-system-x86, qemu-utils, genisoimage'; return; }
    work = await mkdtemp(join(tmpdir(), 'yun-disk-img-'));
    bc = await startBlockCloud({ accelerator: 'tcg' });
  });

  after(async () => {
    await bc?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('imports a raw disk, boots it as a VM from its own disk, console in the instance log', async (t) => {
    if (!ok(t)) return;
    const cc = compute(bc.c);
    const img = await cc.importImage('bootdisk', new Uint8Array(bootSector('DISK-BOOT-OK via yun')), { format: 'disk' });
    assert.equal(img.status.state, 'available', String(img.status.reason));
    await bc.c.request('POST', '/v1/instances', { body: { name: 'dvm', spec: { image: 'bootdisk', type: 'vm', cpus: 1, memoryMb: 64 } } });
    const r = await waitFor(bc.c, 'instances', 'dvm', (x) => ['running', 'error'].includes(String(x.status.state)), 60_000);
    assert.equal(r.status.state, 'running', String(r.status.reason));
    const end = Date.now() + 60_000;
    let log = '';
    while (!log.includes('DISK-BOOT-OK via yun') && Date.now() < end) {
      log = await cc.instance('dvm').logs();
      await new Promise((res) => setTimeout(res, 300));
    }
    assert.match(log, /DISK-BOOT-OK via yun/);
    // the VM dies under it: the instance ends exited, with its last console lines in status
    process.kill(r.status.pid as number, 'SIGKILL');
    const dead = await waitFor(bc.c, 'instances', 'dvm', (x) => x.status.state === 'exited' && Boolean(x.status.consoleTail), 30_000);
    assert.match(String(dead.status.consoleTail), /DISK-BOOT-OK via yun/);
    await bc.c.request('DELETE', '/v1/instances/dvm');
  });

  it('refuses a corrupt qcow2 with the reason', async (t) => {
    if (!ok(t)) return;
    const q = join(work, 'bad.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', q, '64M']);
    const bytes = await readFile(q);
    bytes.writeBigUInt64BE(0xffffffffff00n, 40); // l1_table_offset far past the end of the file
    await writeFile(q, bytes);
    await assert.rejects(compute(bc.c).importImage('broken', new Uint8Array(await readFile(q)), { format: 'disk' }), /qcow2|qemu-img|invalid|corrupt/i);
    const img = await bc.c.resource('images').get('broken');
    assert.equal(img.status.state, 'error');
    assert.match(String(img.status.reason), /.+/);
  });
});
