/**
 * Writes small ustar archives for tests (hostile ones included). Test
 * support only: production code never writes tar files.
 */
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

export interface FixtureEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  content?: string;
  linkTarget?: string;
  mode?: number;
}

const FLAGS = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function header(e: FixtureEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  const oct = (n: number, off: number, len: number) => put(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len);
  if (Buffer.byteLength(e.path) > 100) throw new Error('fixture paths must fit in 100 bytes');
  put(e.path, 0, 100);
  const type = e.type ?? 'file';
  oct(e.mode ?? (type === 'dir' ? 0o755 : 0o644), 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(1_700_000_000, 136, 12);
  h.fill(0x20, 148, 156);
  put(FLAGS[type], 156, 1);
  if (e.linkTarget) put(e.linkTarget, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  if (type === 'char' || type === 'block') {
    oct(1, 329, 8);
    oct(3, 337, 8);
  }
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export function tarBytes(entries: FixtureEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.content ?? '');
    parts.push(header(e, (e.type ?? 'file') === 'file' ? data.length : 0));
    if ((e.type ?? 'file') === 'file' && data.length) {
      parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export async function writeTar(path: string, entries: FixtureEntry[], opts: { gzip?: boolean } = {}): Promise<void> {
  const b = tarBytes(entries);
  await writeFile(path, opts.gzip ? gzipSync(b) : b);
}
