/**
 * A minimal ustar writer for folder uploads (`POST /v1/apps/:name/source`):
 * regular files only, paths up to 255 bytes (prefix + name split), sizes
 * under 8 GiB. Enough for a source folder picked in the browser.
 */
const enc = new TextEncoder();

function header(path: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(512);
  let name = path;
  let prefix = '';
  if (enc.encode(name).length > 100) {
    const cut = path.lastIndexOf('/', 155);
    if (cut <= 0 || enc.encode(path.slice(cut + 1)).length > 100) throw new Error(`path too long for tar: ${path}`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  const put = (s: string, off: number, len: number) => h.set(enc.encode(s).slice(0, len), off);
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0');
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(Math.floor(mtime / 1000), 12), 136, 12);
  put('        ', 148, 8);
  h[156] = 0x30; // '0': regular file
  put('ustar\u000000', 257, 8);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

/** Packs files (with their folder-relative paths) into one tar Blob. */
export async function tarFiles(files: { path: string; file: File }[]): Promise<Blob> {
  const parts: BlobPart[] = [];
  for (const { path, file } of files) {
    parts.push(header(path, file.size, file.lastModified || Date.now()) as Uint8Array<ArrayBuffer>);
    parts.push(file);
    const pad = (512 - (file.size % 512)) % 512;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  return new Blob(parts, { type: 'application/x-tar' });
}
