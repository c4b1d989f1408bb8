/**
 * Importing images from bytes a user uploaded: a rootfs tarball (optionally
 * gzipped) or an OCI image layout packed as a tar (what
 * `podman save --format oci-archive` or `skopeo copy … oci-archive:` make,
 * or `tar -C layout-dir -c .`). Layers are applied in order with whiteouts.
 * Everything is built in a temporary directory and renamed into place, so
 * a failed import leaves nothing behind.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { invalid } from '../core/errors.ts';
import { treeDigest } from './images/digest.ts';
import { type ImageInfo, hostArch } from './images/types.ts';
import { extractTar, safeMemberPath } from './tar.ts';

export type ImportFormat = 'rootfs' | 'oci';

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** A plain tar path for `path` (gunzipped into `scratch` when compressed). */
async function plainTar(path: string, scratch: string): Promise<string> {
  if (!(await isGzip(path))) return path;
  const out = join(scratch, `gunzip-${Math.random().toString(36).slice(2)}.tar`);
  await pipeline(createReadStream(path), createGunzip(), createWriteStream(out));
  return out;
}

interface Descriptor { mediaType?: string; digest: string; platform?: { os?: string; architecture?: string } }

function blobPath(layout: string, d: Descriptor): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(d.digest ?? '');
  if (!m) throw invalid('/image', `unsupported or malformed digest '${d.digest}'`);
  return join(layout, 'blobs', 'sha256', safeMemberPath(m[1]!));
}

const readJson = async <T>(p: string): Promise<T> => {
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch (e) {
    throw invalid('/image', `OCI layout: cannot read ${p.split('/').slice(-2).join('/')}: ${(e as Error).message}`);
  }
};

/** Apply an extracted OCI layout's image (for the host arch when it is an index of several) onto `rootfs`. */
async function applyOciLayout(layout: string, rootfs: string, scratch: string): Promise<{ os: string; arch: string }> {
  let index = await readJson<{ manifests?: Descriptor[] }>(join(layout, 'index.json'));
  for (let depth = 0; depth < 4; depth++) {
    const ms = index.manifests ?? [];
    if (!ms.length) throw invalid('/image', 'OCI layout: index.json lists no manifests');
    const pick = ms.find((m) => !m.platform || m.platform.architecture === hostArch()) ?? ms[0]!;
    const doc = await readJson<{ mediaType?: string; manifests?: Descriptor[]; layers?: Descriptor[]; config?: Descriptor }>(blobPath(layout, pick));
    if (doc.manifests) { index = doc; continue; }
    if (!doc.layers || !doc.config) throw invalid('/image', 'OCI layout: manifest has no layers/config');
    const config = await readJson<{ os?: string; architecture?: string }>(blobPath(layout, doc.config));
    for (const l of doc.layers) {
      if (/zstd/.test(l.mediaType ?? '')) throw invalid('/image', 'OCI layout: zstd layers are not supported');
      const tar = await plainTar(blobPath(layout, l), scratch);
      await extractTar(tar, rootfs, { whiteouts: true });
    }
    return { os: config.os ?? 'linux', arch: config.architecture ?? hostArch() };
  }
  throw invalid('/image', 'OCI layout: index nesting too deep');
}

/**
 * Build `<dir>/rootfs` from the uploaded file and describe it (also written
 * to `<dir>/image.json`). Throws `ValidationFailed` for a hostile or
 * malformed archive.
 */
export async function importImage(dir: string, upload: string, format: ImportFormat): Promise<ImageInfo> {
  await mkdir(dir, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = join(dir, `rootfs.tmp-${stamp}`);
  const scratch = join(dir, `scratch-${stamp}`);
  const rootfs = join(dir, 'rootfs');
  let os = 'linux';
  let arch = hostArch();
  try {
    await mkdir(tmp, { mode: 0o755 });
    await mkdir(scratch);
    const tar = await plainTar(upload, scratch);
    if (format === 'oci') {
      const layout = join(scratch, 'layout');
      await mkdir(layout);
      await extractTar(tar, layout);
      ({ os, arch } = await applyOciLayout(layout, tmp, scratch));
    } else {
      await extractTar(tar, tmp);
    }
    await rm(rootfs, { recursive: true, force: true });
    await rename(tmp, rootfs);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const { sha256, sizeBytes } = await treeDigest(rootfs);
  const info: ImageInfo = { rootfs, sizeBytes, sha256, os, arch };
  await writeFile(join(dir, 'image.json'), JSON.stringify(info, null, 1));
  return info;
}
