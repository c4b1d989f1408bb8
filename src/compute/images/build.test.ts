import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OciDriver } from '../drivers/oci/driver.ts';
import { eventually, skipOrFail } from '../drivers/testing.ts';
import { buildBusyboxImage } from './busybox.ts';
import { buildNodeImage, parseLdd } from './node.ts';

describe('image builders', () => {
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'yun-images-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('parses ldd output', () => {
    const out = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n`;
    assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('builds a busybox image with applet links and a stable digest', async (t) => {
    if (!existsSync('/bin/busybox')) return skipOrFail(t, 'busybox-static not installed');
    const a = await buildBusyboxImage(join(tmp, 'bb1'));
    const b = await buildBusyboxImage(join(tmp, 'bb2'));
    assert.equal(readlinkSync(join(a.rootfs, 'bin/sh')), 'busybox');
    assert.ok(existsSync(join(a.rootfs, 'usr/bin/env')));
    assert.match(readFileSync(join(a.rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    assert.equal(a.sha256, b.sha256, 'same inputs, same digest');
    assert.ok(a.sizeBytes > 500_000);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'bb1/image.json'), 'utf8')), a);
    assert.equal(existsSync(join(tmp, 'bb1')) && (await import('node:fs')).readdirSync(join(tmp, 'bb1')).sort().join(','), 'image.json,rootfs');
  });

  it('builds a node image that runs node inside a container', async (t) => {
    if (!existsSync('/bin/busybox')) return skipOrFail(t, 'busybox-static not installed');
    const img = await buildNodeImage(join(tmp, 'node'));
    assert.ok(existsSync(join(img.rootfs, 'usr/bin/node')));
    assert.ok(existsSync(join(img.rootfs, 'bin/sh')), 'busybox shell included');
    const d = new OciDriver({ stateDir: join(tmp, 'oci') });
    const caps = await d.capabilities();
    if (!caps.available) return skipOrFail(t, `oci driver: ${caps.reason}`);
    await d.create({ id: 'i-node-image', imageRootfs: img.rootfs, command: ['node', '-e', 'console.log("node", process.version, 6 * 7)'], limits: { memoryMb: 256 } });
    try {
      await d.start('i-node-image');
      const st = await eventually(async () => ((await d.inspect('i-node-image'))?.state === 'exited' ? d.inspect('i-node-image') : undefined), 30_000);
      const log = await d.readLog('i-node-image');
      assert.equal(st?.exitCode, 0, log);
      assert.equal(log, `node ${process.version} 42\n`);
    } finally {
      await d.delete('i-node-image');
    }
  });
});
