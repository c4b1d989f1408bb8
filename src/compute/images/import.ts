/**
 * Importing images from outside: a rootfs tarball, or an OCI image layout
 * directory (`index.json` → manifest → layers applied in order, with
 * whiteouts). Every archive is inspected (tar.ts) before a single byte is
 * extracted; extraction itself is GNU tar with argument arrays.
 *
 * What it cannot do: zstd layers, foreign-architecture selection beyond
 * the index's platform field, signature verification.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { YunError, invalid } from '../../core/errors.ts';
import { runOk } from '../drivers/host.ts';
import { buildInto } from './busybox.ts';
import { assertNoSymlinkParents, assertSafeTar, readTarEntries } from './tar.ts';
import { type ImageInfo, hostArch } from './types.ts';

const TAR_ARGS = ['--numeric-owner', '--preserve-permissions', '--delay-directory-restore'];

export interface ImportOptions {
  os?: string;
  arch?: string;
}

/** Import a rootfs tarball (plain or gzip) into `<dir>/rootfs`. Rejects hostile archives before extracting. */
export async function importRootfsTar(tarPath: string, dir: string, opts: ImportOptions = {}): Promise<ImageInfo> {
  const entries = await readTarEntries(tarPath);
  assertSafeTar(entries, `archive ${tarPath}`);
  return buildInto(
    dir,
    async (rootfs) => {
      await runOk('tar', ['-x', '-f', tarPath, '-C', rootfs, ...TAR_ARGS]);
    },
    opts.os ?? 'linux',
    opts.arch ?? hostArch(),
  );
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
}

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);

function blobPath(layout: string, digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalid('/digest', `unsupported or malformed digest ${JSON.stringify(digest)}`);
  return join(layout, 'blobs', 'sha256', m[1]!);
}

/** Path of a blob after checking its bytes match the digest. */
async function verifiedBlob(layout: string, digest: string): Promise<string> {
  const p = blobPath(layout, digest);
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  if (`sha256:${h.digest('hex')}` !== digest) throw new YunError('ValidationFailed', `blob ${digest} does not match its digest`);
  return p;
}

async function readJsonBlob<T>(layout: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(await verifiedBlob(layout, digest), 'utf8')) as T;
}

/** Pick the manifest for os/arch from an index, descending into nested indexes. */
async function pickManifest(layout: string, manifests: Descriptor[], os: string, arch: string, depth = 0): Promise<Descriptor> {
  if (depth > 4) throw invalid('/manifests', 'index nesting too deep');
  const fits = manifests.filter((m) => !m.platform || ((m.platform.os ?? os) === os && (m.platform.architecture ?? arch) === arch));
  const m = fits[0];
  if (!m) throw new YunError('ValidationFailed', `no manifest for ${os}/${arch} in the image index`);
  if (INDEX_TYPES.includes(m.mediaType)) {
    const idx = await readJsonBlob<{ manifests: Descriptor[] }>(layout, m.digest);
    return pickManifest(layout, idx.manifests, os, arch, depth + 1);
  }
  return m;
}

/** Import an OCI image layout directory into `<dir>/rootfs`. */
export async function importOciLayout(layoutDir: string, dir: string, opts: ImportOptions = {}): Promise<ImageInfo> {
  const marker = JSON.parse(await readFile(join(layoutDir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: string };
  if (!marker.imageLayoutVersion) throw invalid('/oci-layout', 'not an OCI image layout');
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const os = opts.os ?? 'linux';
  const arch = opts.arch ?? hostArch();
  const mdesc = await pickManifest(layoutDir, index.manifests ?? [], os, arch);
  const manifest = await readJsonBlob<{ config: Descriptor; layers: Descriptor[] }>(layoutDir, mdesc.digest);
  const config = await readJsonBlob<{ os?: string; architecture?: string }>(layoutDir, manifest.config.digest);
  for (const l of manifest.layers) if (!LAYER_TYPES.has(l.mediaType)) throw new YunError('CapabilityMissing', `unsupported layer media type ${l.mediaType}`);
  return buildInto(
    dir,
    async (rootfs) => {
      for (const layer of manifest.layers) await applyLayer(rootfs, await verifiedBlob(layoutDir, layer.digest), layer.digest);
    },
    config.os ?? os,
    config.architecture ?? arch,
  );
}

/**
 * Apply one layer: check it, delete what its whiteouts hide in the layers
 * below (`.wh.NAME` removes NAME, `.wh..wh..opq` empties the directory),
 * then extract everything but the whiteout markers.
 */
export async function applyLayer(rootfs: string, tarPath: string, what: string): Promise<void> {
  const entries = await readTarEntries(tarPath);
  assertSafeTar(entries, `layer ${what}`);
  await assertNoSymlinkParents(
    rootfs,
    entries.map((e) => e.path),
    `layer ${what}`,
  );
  for (const e of entries) {
    const slash = e.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : e.path.slice(0, slash);
    const base = e.path.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      const d = join(rootfs, parent);
      const names = await readdir(d).catch(() => [] as string[]);
      for (const n of names) await rm(join(d, n), { recursive: true, force: true });
    } else if (base.startsWith('.wh.')) {
      if (['', '.', '..'].includes(base.slice(4))) throw new YunError('ValidationFailed', `layer ${what} rejected: bad whiteout ${e.path}`);
      const victim = join(rootfs, parent, base.slice(4));
      if (await lstat(victim).catch(() => undefined)) await rm(victim, { recursive: true, force: true });
    }
  }
  await runOk('tar', ['-x', '-f', tarPath, '-C', rootfs, ...TAR_ARGS, '--exclude=.wh.*']);
}
