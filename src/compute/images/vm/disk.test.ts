import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isYunError } from '../../../core/errors.ts';
import { requireCapability } from '../../../../test/helpers/capability.ts';
import { importDiskImage } from './disk.ts';

let haveQemuImg = true;
try {
  execFileSync('qemu-img', ['--version']);
} catch {
  haveQemuImg = false;
}

describe('importDiskImage', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'yun-diskimg-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts raw and qcow2 by content, converts into an image dir', async (t) => {
    if (!requireCapability(t, haveQemuImg, 'qemu-img missing (Debian: qemu-utils)')) return;
    const raw = join(dir, 'looks-like.qcow2'); // the name lies; the content decides
    await writeFile(raw, Buffer.alloc(1024 * 1024, 7));
    const r = await importDiskImage(raw);
    assert.equal(r.format, 'raw');
    assert.equal(r.virtualBytes, 1024 * 1024);
    const q = join(dir, 'd.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '8M']);
    assert.equal((await importDiskImage(q)).format, 'qcow2');
    const into = join(dir, 'img');
    const imported = await importDiskImage(raw, { intoDir: into });
    assert.equal(imported.format, 'qcow2');
    assert.equal(JSON.parse(await readFile(join(into, 'image.json'), 'utf8')).disk, join(into, 'disk.qcow2'));
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, join(into, 'disk.qcow2')]);
  });

  it('refuses other formats, backing files and missing files', async (t) => {
    if (!requireCapability(t, haveQemuImg, 'qemu-img missing (Debian: qemu-utils)')) return;
    const vmdk = join(dir, 'x.vmdk');
    execFileSync('qemu-img', ['create', '-q', '-f', 'vmdk', vmdk, '4M']);
    await assert.rejects(importDiskImage(vmdk), (e) => isYunError(e) && e.code === 'ValidationFailed' && /vmdk/.test(e.message));
    const b = join(dir, 'base.qcow2');
    const o = join(dir, 'overlay.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', b, '4M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', b, o]);
    await assert.rejects(importDiskImage(o), (e) => isYunError(e) && /backing/.test(e.message));
    await assert.rejects(importDiskImage(join(dir, 'missing')), (e) => isYunError(e) && e.code === 'ValidationFailed');
  });
});
