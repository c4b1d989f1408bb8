import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes a file atomically (temp + fsync + rename) with the given mode. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** Reads the 32-byte master key, creating it (0600) on first use. */
export async function loadOrCreateKey(path: string): Promise<Buffer> {
  try {
    const k = await readFile(path);
    if (k.length === 32) return k;
    throw new Error(`${path}: master key must be 32 bytes, found ${k.length}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = randomBytes(32);
  await writeFileAtomic(path, key, 0o600);
  return key;
}
