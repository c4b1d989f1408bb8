import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { importImage } from './image-import.ts';
import { safeMemberPath, symlinkStaysInside } from './tar.ts';

describe('tar member checks', () => {
  it('refuses absolute and climbing paths, and symlinks that leave the root', () => {
    assert.equal(safeMemberPath('./bin/sh'), 'bin/sh');
    assert.throws(() => safeMemberPath('/etc/passwd'), /absolute/);
    assert.throws(() => safeMemberPath('a/../../x'), /climbs/);
    assert.ok(symlinkStaysInside('bin/sh', 'busybox'));
    assert.ok(symlinkStaysInside('bin/sh', '/bin/busybox'));
    assert.ok(symlinkStaysInside('usr/bin/x', '../../bin/busybox'));
    assert.ok(!symlinkStaysInside('usr/bin/x', '../../../etc/shadow'));
    assert.ok(!symlinkStaysInside('x', '/../etc/shadow'));
  });
});

describe('importImage', () => {
  let tmp = '';
  before(async () => { tmp = await mkdtemp(join(tmpdir(), 'yun-import-')); });
  after(async () => { await rm(tmp, { recursive: true, force: true }); });

  const blob = async (layout: string, data: Buffer) => {
    const d = createHash('sha256').update(data).digest('hex');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(layout, 'blobs', 'sha256', d), data);
    return { digest: `sha256:${d}`, size: data.length };
  };
  const tarOf = (dir: string, out: string) => { execFileSync('tar', ['-C', dir, '-cf', out, '.']); return out; };

  it('imports a gzipped rootfs tarball with symlinks and modes', async () => {
    const src = join(tmp, 'src1');
    await mkdir(join(src, 'bin'), { recursive: true });
    await writeFile(join(src, 'bin', 'tool'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    execFileSync('ln', ['-s', '/bin/tool', join(src, 'bin', 'alias')]);
    const tar = tarOf(src, join(tmp, 'r.tar'));
    await writeFile(`${tar}.gz`, gzipSync(await readFile(tar)));
    const info = await importImage(join(tmp, 'img1'), `${tar}.gz`, 'rootfs');
    assert.equal(await readFile(join(info.rootfs, 'bin/tool'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(await readlink(join(info.rootfs, 'bin/alias')), '/bin/tool');
    assert.match(info.sha256, /^[0-9a-f]{64}$/);
  });

  it('imports an OCI image layout (index → manifest → layers, with whiteouts)', async () => {
    const l1 = join(tmp, 'l1');
    await mkdir(join(l1, 'etc'), { recursive: true });
    await writeFile(join(l1, 'etc', 'keep'), 'keep');
    await writeFile(join(l1, 'etc', 'gone'), 'gone');
    const l2 = join(tmp, 'l2');
    await mkdir(join(l2, 'etc'), { recursive: true });
    await writeFile(join(l2, 'etc', '.wh.gone'), '');
    await writeFile(join(l2, 'etc', 'added'), 'added');
    const layout = join(tmp, 'layout');
    await mkdir(layout);
    const layer1 = await blob(layout, gzipSync(await readFile(tarOf(l1, join(tmp, 'l1.tar')))));
    const layer2 = await blob(layout, await readFile(tarOf(l2, join(tmp, 'l2.tar'))));
    const config = await blob(layout, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } })));
    const manifest = await blob(layout, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer1 }, { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer2 }] })));
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
    const info = await importImage(join(tmp, 'img2'), tarOf(layout, join(tmp, 'layout.tar')), 'oci');
    assert.equal(info.arch, 'amd64');
    assert.equal(await readFile(join(info.rootfs, 'etc/keep'), 'utf8'), 'keep');
    assert.equal(await readFile(join(info.rootfs, 'etc/added'), 'utf8'), 'added');
    assert.ok(!existsSync(join(info.rootfs, 'etc/gone')), 'whiteout applied');
    assert.ok(!existsSync(join(info.rootfs, 'etc/.wh.gone')));
  });

  it('a failed import leaves nothing behind', async () => {
    const bad = join(tmp, 'bad.tar');
    execFileSync('/usr/bin/python3', ['-c', "import tarfile,sys\nt=tarfile.open(sys.argv[1],'w')\ni=tarfile.TarInfo('dev/null');i.type=tarfile.CHRTYPE;t.addfile(i)\nt.close()", bad]);
    await assert.rejects(importImage(join(tmp, 'img3'), bad, 'rootfs'), /device node/);
    assert.deepEqual(await readdir(join(tmp, 'img3')), []);
  });
});
