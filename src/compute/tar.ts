/**
 * A small, strict tar extractor for untrusted image tarballs. It never
 * follows a symlink while writing (parents are checked with lstat), and
 * refuses what an image must not carry: absolute or `..` member paths,
 * symlinks or hard links that resolve outside the root, and device nodes or
 * FIFOs. With `whiteouts` it applies OCI layer whiteouts (`.wh.NAME`
 * deletes NAME, `.wh..wh..opq` empties the directory) as layers are applied.
 * Understands ustar, GNU long names and pax path/linkpath records.
 * Ownership is not restored (everything belongs to root), modes are.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { lstat, mkdir, rm, symlink, link, chmod, readdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { invalid } from '../core/errors.ts';

export interface ExtractOptions {
  whiteouts?: boolean;
}

interface Header { name: string; type: string; size: number; mode: number; linkname: string }

function parseOctal(b: Buffer): number {
  const s = b.toString('latin1').replace(/\0.*$/s, '').trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function parseHeader(b: Buffer): Header | undefined {
  if (b.every((x) => x === 0)) return undefined;
  const str = (o: number, n: number) => b.subarray(o, o + n).toString('utf8').replace(/\0.*$/s, '');
  let name = str(0, 100);
  const prefix = b.subarray(257, 263).toString('latin1').startsWith('ustar') ? str(345, 155) : '';
  if (prefix) name = `${prefix}/${name}`;
  let size = parseOctal(b.subarray(124, 136));
  if (b[124]! & 0x80) size = Number(b.readBigUInt64BE(128)); // GNU base-256
  return { name, type: String.fromCharCode(b[156] || 48), size, mode: parseOctal(b.subarray(100, 108)), linkname: str(157, 100) };
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = Buffer.from(text, 'utf8');
  while (rest.length) {
    const sp = rest.indexOf(0x20);
    if (sp < 0) break;
    const len = Number(rest.subarray(0, sp).toString());
    if (!len) break;
    const rec = rest.subarray(sp + 1, len).toString('utf8').replace(/\n$/, '');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    rest = rest.subarray(len);
  }
  return out;
}

/** Normalises a member path to a relative path inside the root, or throws. */
export function safeMemberPath(name: string): string {
  if (name.includes('\0')) throw invalid('/image', `tar member name contains NUL`);
  if (name.startsWith('/')) throw invalid('/image', `tar member '${name}' has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw invalid('/image', `tar member '${name}' climbs out of the root with '..'`);
  return parts.join('/');
}

/** A symlink at `rel` with `target` must resolve (lexically, absolute targets from the root) inside the root. */
export function symlinkStaysInside(rel: string, target: string): boolean {
  let depth = target.startsWith('/') ? 0 : posix.dirname(rel).split('/').filter((x) => x && x !== '.').length;
  for (const p of target.split('/')) {
    if (p === '..') { depth--; if (depth < 0) return false; } else if (p && p !== '.') depth++;
  }
  return true;
}

async function ensureParents(root: string, rel: string): Promise<void> {
  let dir = root;
  for (const part of rel.split('/').slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => undefined);
    if (st?.isSymbolicLink()) throw invalid('/image', `tar member '${rel}' would be written through the symlink '${part}'`);
    if (!st) await mkdir(dir, { mode: 0o755 });
    else if (!st.isDirectory()) throw invalid('/image', `tar member '${rel}': '${part}' is not a directory`);
  }
}

/** Extracts the (uncompressed) tar file at `tarPath` into `root` (which must exist). */
export async function extractTar(tarPath: string, root: string, opts: ExtractOptions = {}): Promise<void> {
  const fd = openSync(tarPath, 'r');
  const hdr = Buffer.alloc(512);
  const chunk = Buffer.alloc(1 << 20);
  let pos = 0;
  const readAt = (buf: Buffer, len: number, at: number) => {
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, at + got);
      if (n === 0) throw invalid('/image', 'truncated tar archive');
      got += n;
    }
  };
  const readText = (size: number, at: number) => {
    if (size > 1 << 20) throw invalid('/image', 'tar extended header too large');
    const b = Buffer.alloc(size);
    readAt(b, size, at);
    return b.toString('utf8');
  };
  try {
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const n = readSync(fd, hdr, 0, 512, pos);
      if (n < 512) break;
      const h = parseHeader(hdr);
      if (!h) break;
      const dataAt = pos + 512;
      pos = dataAt + Math.ceil(h.size / 512) * 512;
      if (h.type === 'x') { pax = { ...pax, ...parsePax(readText(h.size, dataAt)) }; continue; }
      if (h.type === 'g') continue;
      if (h.type === 'L') { longName = readText(h.size, dataAt).replace(/\0.*$/s, ''); continue; }
      if (h.type === 'K') { longLink = readText(h.size, dataAt).replace(/\0.*$/s, ''); continue; }
      const name = pax.path ?? longName ?? h.name;
      const linkname = pax.linkpath ?? longLink ?? h.linkname;
      pax = {};
      longName = undefined;
      longLink = undefined;
      const rel = safeMemberPath(name);
      if (!rel) continue;
      const dest = join(root, rel);
      const base = posix.basename(rel);
      if (opts.whiteouts && base.startsWith('.wh.')) {
        await ensureParents(root, rel);
        if (base === '.wh..wh..opq') {
          const d = dirname(dest);
          for (const e of await readdir(d).catch(() => [] as string[])) await rm(join(d, e), { recursive: true, force: true });
        } else {
          await rm(join(dirname(dest), base.slice(4)), { recursive: true, force: true });
        }
        continue;
      }
      if (['3', '4', '6'].includes(h.type)) throw invalid('/image', `tar member '${name}' is a device node or FIFO`);
      await ensureParents(root, rel);
      const existing = await lstat(dest).catch(() => undefined);
      if (existing && !(existing.isDirectory() && h.type === '5')) await rm(dest, { recursive: true, force: true });
      const mode = h.mode & 0o7777 & ~0o6000; // no setuid/setgid bits from untrusted images
      switch (h.type) {
        case '5':
          if (!existing?.isDirectory()) await mkdir(dest, { mode: 0o755 });
          await chmod(dest, mode || 0o755);
          break;
        case '2':
          if (!symlinkStaysInside(rel, linkname)) throw invalid('/image', `symlink '${name}' -> '${linkname}' escapes the image root`);
          await symlink(linkname, dest);
          break;
        case '1': {
          const target = safeMemberPath(linkname);
          const tst = await lstat(join(root, target)).catch(() => undefined);
          if (!tst?.isFile()) throw invalid('/image', `hard link '${name}' -> '${linkname}' does not name a regular file in the image`);
          await ensureParents(root, target);
          await link(join(root, target), dest);
          break;
        }
        case '0': case '7': {
          const out = openSync(dest, 'wx', mode || 0o644);
          try {
            let left = h.size;
            let at = dataAt;
            while (left > 0) {
              const len = Math.min(left, chunk.length);
              readAt(chunk, len, at);
              writeSync(out, chunk, 0, len);
              left -= len;
              at += len;
            }
          } finally {
            closeSync(out);
          }
          await chmod(dest, mode || 0o644);
          break;
        }
        default:
          throw invalid('/image', `tar member '${name}' has unsupported type '${h.type}'`);
      }
    }
  } finally {
    closeSync(fd);
  }
}
