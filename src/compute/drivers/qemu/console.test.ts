import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootFailure, readRunConsole } from './console.ts';

test('a kernel panic is the failure, with the console lines up to it', () => {
  const log = '[    0.1] Linux version 6.1\r\n[    0.9] Freeing unused kernel memory\r\n[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n[    1.0] CPU: 0 PID: 1\r\n';
  const f = bootFailure(log);
  assert.equal(f, 'guest kernel panic: VFS: Unable to mount root fs on unknown-block(0,0); last console lines: [ 0.1] Linux version 6.1 | [ 0.9] Freeing unused kernel memory | [ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
});

test('firmware with nothing to boot is a failure; terminal escapes are dropped', () => {
  const log = '\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\nBooting from Hard Disk...\r\nBoot failed: not a bootable disk\r\nPress Ctrl-B for the iPXE command line...                    Booting from Floppy...\r\nNo bootable device.\r\n';
  assert.equal(bootFailure(log), 'no bootable device; last console lines: SeaBIOS (version 1.16.2) | Booting from Hard Disk... | Boot failed: not a bootable disk | Press Ctrl-B for the iPXE command line... Booting from Floppy... | No bootable device.');
});

test('a console that shows a boot going well is no failure', () => {
  assert.equal(bootFailure('Linux version 6.1\nyun-tiny: boot complete\n'), undefined);
  assert.equal(bootFailure(''), undefined);
});

test('a run console starts where the console ended when the run started', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'yun-console-'));
  try {
    const p = join(dir, 'console.log');
    assert.equal(await readRunConsole(p, 0), '', 'missing file');
    const earlier = 'Kernel panic - not syncing: an earlier run\n';
    await writeFile(p, `${earlier}Linux version 6.1\n`);
    assert.equal(await readRunConsole(p, Buffer.byteLength(earlier)), 'Linux version 6.1\n');
    assert.equal(bootFailure(await readRunConsole(p, Buffer.byteLength(earlier))), undefined, "an earlier run's panic is not this run's");
    assert.equal(await readRunConsole(p, 10_000), '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
