import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { YunError, invalid } from '../../core/errors.ts';
import { VOLUME_ID_RE } from './types.ts';

/** Runs a host tool with an argument array; throws `DriverFailed` with its stderr on failure. */
export function runTool(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new YunError('DriverFailed', `${cmd} ${args[0] ?? ''} failed: ${String(stderr || err.message).trim().slice(0, 1000)}`, {
            cause: err,
            details: { tool: cmd, stderr: String(stderr).slice(0, 4000) },
          }),
        );
      } else resolve(stdout);
    });
  });
}

export function checkId(kind: 'volume' | 'snapshot', id: string): void {
  if (!VOLUME_ID_RE.test(id)) throw invalid('/id', `${kind} id '${id}' must be a DNS label`);
}

export function checkSize(sizeGb: number): void {
  if (!(Number.isFinite(sizeGb) && sizeGb > 0 && sizeGb <= 64 * 1024)) throw invalid('/sizeGb', 'sizeGb must be > 0 and ≤ 65536');
}

export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, path);
}

/** Per-key promise chains: serialises operations on one volume inside a process. */
export class KeyedSerial {
  private readonly chains = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.chains.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }
}
