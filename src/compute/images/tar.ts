/**
 * A tar header reader and the safety rules an image archive must pass
 * BEFORE anything is extracted. Reads ustar, GNU long names (`L`/`K`) and
 * pax extended headers (`x`); gzip is detected by its magic bytes.
 * Entry data is skipped, never buffered.
 */
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { YunError } from '../../core/errors.ts';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'other';

export interface TarEntry {
  /** Path as stored (leading `./` removed, trailing `/` removed). */
  path: string;
  type: TarEntryType;
  /** Symlink target or hardlink source. */
  linkTarget?: string;
  mode: number;
  size: number;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return (nul < 0 ? s : s.subarray(0, nul)).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256 for large values.
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const t = str(b, off, len).trim();
  return t ? Number.parseInt(t, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number.parseInt(data.subarray(i, sp).toString('utf8'), 10);
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const clean = (p: string) => p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');

/** List the entries of a (possibly gzip-compressed) tar file. */
export async function readTarEntries(path: string): Promise<TarEntry[]> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(path, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (c) => parts.push(c as Buffer));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const src = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  const entries: TarEntry[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let skip = 0; // bytes of entry data still to skip
  let collect: { kind: 'L' | 'K' | 'x'; size: number; parts: Buffer[]; got: number } | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let ended = false;
  for await (const chunk of src) {
    buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
    for (;;) {
      if (ended) break;
      if (collect) {
        const take = Math.min(collect.size - collect.got, buf.length);
        collect.parts.push(buf.subarray(0, take));
        collect.got += take;
        buf = buf.subarray(take);
        if (collect.got < collect.size) break;
        const data = Buffer.concat(collect.parts);
        if (collect.kind === 'L') longName = str(data, 0, data.length);
        else if (collect.kind === 'K') longLink = str(data, 0, data.length);
        else pax = { ...pax, ...parsePax(data) };
        skip = (512 - (collect.size % 512)) % 512;
        collect = undefined;
      }
      if (skip > 0) {
        const take = Math.min(skip, buf.length);
        buf = buf.subarray(take);
        skip -= take;
        if (skip > 0) break;
      }
      if (buf.length < 512) break;
      const h = buf.subarray(0, 512);
      buf = buf.subarray(512);
      if (h.every((x) => x === 0)) {
        ended = true;
        break;
      }
      const flag = String.fromCharCode(h[156]!);
      const size = num(h, 124, 12);
      if (flag === 'L' || flag === 'K' || flag === 'x') {
        collect = { kind: flag, size, parts: [], got: 0 };
        continue;
      }
      if (flag === 'g') {
        skip = Math.ceil(size / 512) * 512;
        continue;
      }
      const prefix = str(h, 257, 6).startsWith('ustar') ? str(h, 345, 155) : '';
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
      const link = pax.linkpath ?? longLink ?? str(h, 157, 100);
      const type = TYPES[flag] ?? 'other';
      const realSize = pax.size !== undefined ? Number(pax.size) : size;
      entries.push({
        path: clean(name),
        type,
        mode: num(h, 100, 8),
        size: realSize,
        ...(type === 'symlink' || type === 'hardlink' ? { linkTarget: link } : {}),
      });
      longName = longLink = undefined;
      pax = {};
      skip = type === 'file' || type === 'other' ? Math.ceil(realSize / 512) * 512 : 0;
    }
    if (ended) break;
  }
  return entries;
}

/**
 * Why this archive is unsafe to extract as an image rootfs, or `[]`:
 * absolute or `..` paths, device nodes, unknown entry types, hard links
 * outside the archive, relative symlinks resolving outside the root,
 * absolute symlink targets with `..`, and entries written through a symlink
 * made earlier in the same archive.
 */
export function tarProblems(entries: TarEntry[]): string[] {
  const problems: string[] = [];
  const symlinks = new Set<string>();
  const bad = (p: string) => p.startsWith('/') || p.includes('\0') || p.split('/').includes('..');
  for (const e of entries) {
    const p = e.path;
    if (p === '' || p === '.') continue;
    if (bad(p)) {
      problems.push(`${JSON.stringify(p)}: absolute path or '..' component`);
      continue;
    }
    if (e.type === 'char' || e.type === 'block') problems.push(`${p}: device node`);
    if (e.type === 'other') problems.push(`${p}: unsupported entry type`);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (symlinks.has(parent)) problems.push(`${p}: written through symlink ${parent}`);
    }
    if (e.type === 'hardlink') {
      const t = clean(e.linkTarget ?? '');
      if (!t || bad(t)) problems.push(`${p}: hard link to ${JSON.stringify(e.linkTarget)} outside the archive`);
    }
    if (e.type === 'symlink') {
      const t = e.linkTarget ?? '';
      if (t.includes('\0')) problems.push(`${p}: bad symlink target`);
      else if (t.startsWith('/')) {
        if (t.split('/').includes('..')) problems.push(`${p}: absolute symlink ${t} with '..'`);
      } else if (posix.normalize(posix.join(posix.dirname(p), t)).split('/')[0] === '..') {
        problems.push(`${p}: symlink ${t} escapes the root`);
      }
      symlinks.add(p);
    } else symlinks.delete(p);
  }
  return problems;
}

/** Throw `ValidationFailed` listing the problems, if any. */
export function assertSafeTar(entries: TarEntry[], what: string): void {
  const problems = tarProblems(entries);
  if (problems.length)
    throw new YunError('ValidationFailed', `${what} rejected: ${problems.slice(0, 5).join('; ')}`, { details: { problems: problems.slice(0, 100) } });
}

/**
 * For layering onto an existing tree: refuse entries whose parent
 * directories are symlinks already on disk (tar would follow them out of the root).
 */
export async function assertNoSymlinkParents(root: string, paths: string[], what: string): Promise<void> {
  const checked = new Map<string, boolean>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      let isLink = checked.get(parent);
      if (isLink === undefined) {
        isLink = !!(await lstat(join(root, parent)).catch(() => undefined))?.isSymbolicLink();
        checked.set(parent, isLink);
      }
      if (isLink) throw new YunError('ValidationFailed', `${what} rejected: ${p} is written through symlink ${parent} of a lower layer`);
    }
  }
}
