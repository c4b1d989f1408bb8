/**
 * Reading a VM's serial console for why its boot failed. pvpanic ends QEMU on
 * a kernel panic once the guest has loaded its driver; a panic before that
 * (a broken initrd, no root filesystem) reboots or hangs, and firmware with
 * nothing to boot waits forever. The driver looks at the console of the
 * current QEMU run for both, ends that QEMU and reports the failure with the
 * last console lines.
 */
import { open } from 'node:fs/promises';

/** How much of the end of a run's console is looked at. */
const WINDOW = 64 * 1024;
const LINES = 6;

/** Console text of one QEMU run: from byte `from` (the console's size when it started) to the end, at most the last 64 KiB. */
export async function readRunConsole(path: string, from: number): Promise<string> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    const start = Math.max(from, size - WINDOW);
    if (start >= size) return '';
    const buf = Buffer.allocUnsafe(size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes and control bytes from firmware output
const CONTROL = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[c()][0-9A-Za-z]?|[\x00-\x08\x0b-\x1f\x7f]/g;
const PANIC = /Kernel panic - not syncing:? *([^\r\n]*)/;
const NO_BOOT = /No bootable device/;

const lastLines = (text: string) => text.replace(CONTROL, '').split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean).slice(-LINES);

/**
 * Why the guest of this run cannot go on, from its console: a kernel panic
 * (its message, then the console lines up to it) or firmware that found
 * nothing to boot (then the last console lines). Undefined for a console that
 * shows neither.
 */
export function bootFailure(consoleOfRun: string): string | undefined {
  const panic = PANIC.exec(consoleOfRun);
  if (panic) {
    const upTo = consoleOfRun.slice(0, panic.index + panic[0].length);
    return `guest kernel panic: ${panic[1]!.replace(CONTROL, '').trim()}; last console lines: ${lastLines(upTo).join(' | ')}`;
  }
  if (NO_BOOT.test(consoleOfRun)) return `no bootable device; last console lines: ${lastLines(consoleOfRun).join(' | ')}`;
  return undefined;
}
