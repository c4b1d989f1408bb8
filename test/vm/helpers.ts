import { readdir, readFile } from 'node:fs/promises';
import type { QemuDriver } from '../../src/compute/drivers/qemu/driver.ts';

/** Polls the VM's console log until `text` appears `count` times; fails with the log tail. */
export async function waitForConsole(d: QemuDriver, id: string, text: string, timeoutMs: number, count = 1): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const log = await d.readLog(id);
    if (log.split(text).length - 1 >= count) return log;
    if (Date.now() > end) throw new Error(`'${text}' x${count} not on the console of ${id} within ${timeoutMs} ms; tail:\n${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Pids of every process whose argv mentions `needle` (e.g. a VM's state dir). */
export async function pidsMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8')).split('\0');
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (/qemu-system/.test(argv[0] ?? '') && argv.some((a) => a.includes(needle))) out.push(Number(p));
    } catch {
      // exited while we looked
    }
  }
  return out;
}
