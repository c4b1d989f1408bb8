import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isYunError } from '../../core/errors.ts';
import { importOciLayout, importRootfsTar } from './import.ts';
import { type FixtureEntry, tarBytes, writeTar } from './tar-fixture.ts';
import { readTarEntries } from './tar.ts';

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'yun-import-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const rejected = (e: unknown) => isYunError(e) && e.code === 'ValidationFailed';

describe('importRootfsTar', () => {
  it('imports a plain and a gzip rootfs tar and describes it', async () => {
    const entries: FixtureEntry[] = [
      { path: 'bin/', type: 'dir' },
      { path: 'bin/hello', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { path: 'bin/sh', type: 'symlink', linkTarget: '/bin/busybox' },
      { path: 'etc/', type: 'dir' },
      { path: 'etc/motd', content: 'welcome\n' },
      { path: 'etc/motd.link', type: 'hardlink', linkTarget: 'etc/motd' },
      { path: 'lib/x', type: 'symlink', linkTarget: '../etc/motd' },
      { path: 'run/fifo', type: 'fifo' },
    ];
    for (const gzip of [false, true]) {
      const tar = join(tmp, `ok-${gzip}.tar`);
      await writeTar(tar, entries, { gzip });
      const info = await importRootfsTar(tar, join(tmp, `img-ok-${gzip}`));
      assert.equal(readFileSync(join(info.rootfs, 'etc/motd.link'), 'utf8'), 'welcome\n');
      assert.equal(readlinkSync(join(info.rootfs, 'bin/sh')), '/bin/busybox');
      assert.match(info.sha256, /^[a-f0-9]{64}$/);
      assert.equal(info.sizeBytes, 18 + 8 + 8, 'hello + motd + its hard link');
      assert.equal(info.os, 'linux');
    }
    // Same content, same digest.
    const a = JSON.parse(readFileSync(join(tmp, 'img-ok-false/image.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(tmp, 'img-ok-true/image.json'), 'utf8'));
    assert.equal(a.sha256, b.sha256);
  });

  const hostile: Record<string, FixtureEntry[]> = {
    'a .. path': [{ path: '../escape', content: 'x' }],
    'a nested .. path': [{ path: 'etc/../../escape', content: 'x' }],
    'an absolute path': [{ path: '/etc/cron.d/evil', content: 'x' }],
    'a character device': [{ path: 'dev/mem', type: 'char' }],
    'a block device': [{ path: 'dev/sda', type: 'block' }],
    'a relative symlink escaping the root': [{ path: 'lib/evil', type: 'symlink', linkTarget: '../../../../etc/shadow' }],
    'an absolute symlink with ..': [{ path: 'lib/evil', type: 'symlink', linkTarget: '/../../etc/shadow' }],
    'a write through a symlink': [
      { path: 'etc', type: 'symlink', linkTarget: '/etc' },
      { path: 'etc/cron.d/evil', content: 'x' },
    ],
    'a hard link outside the archive': [{ path: 'shadow', type: 'hardlink', linkTarget: '../../etc/shadow' }],
    'an absolute hard link': [{ path: 'shadow', type: 'hardlink', linkTarget: '/etc/shadow' }],
  };
  for (const [name, entries] of Object.entries(hostile)) {
    it(`rejects ${name} before extracting anything`, async () => {
      const tar = join(tmp, `hostile-${name.replace(/\W+/g, '-')}.tar`);
      await writeTar(tar, [{ path: 'marker', content: 'm' }, ...entries]);
      const dir = join(tmp, `img-${name.replace(/\W+/g, '-')}`);
      await assert.rejects(importRootfsTar(tar, dir), rejected);
      assert.equal(existsSync(join(dir, 'rootfs')), false, 'nothing extracted');
      assert.equal(existsSync(join(tmp, 'escape')), false);
    });
  }

  it('reads GNU long names and pax paths', async () => {
    // GNU tar itself writes long names; use it to produce a real-world archive.
    const src = join(tmp, 'long-src');
    const deep = join(src, 'a'.repeat(60), 'b'.repeat(60));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'c'.repeat(30)), 'deep');
    const { execFileSync } = await import('node:child_process');
    for (const format of ['gnu', 'pax']) {
      const tar = join(tmp, `long-${format}.tar`);
      execFileSync('tar', ['-c', '-f', tar, `--format=${format}`, '-C', src, '.']);
      const names = (await readTarEntries(tar)).map((e) => e.path);
      assert.ok(names.includes(`${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(30)}`), format);
    }
  });
});

describe('importOciLayout', () => {
  async function blob(layout: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
    const b = Buffer.from(data);
    const hex = createHash('sha256').update(b).digest('hex');
    await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
    await writeFile(join(layout, 'blobs/sha256', hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  }
  async function makeLayout(name: string, layers: FixtureEntry[][]): Promise<string> {
    const layout = join(tmp, name);
    await mkdir(layout, { recursive: true });
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const config = await blob(layout, JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }));
    const layerDescs = [];
    for (const [i, l] of layers.entries()) {
      const { gzipSync } = await import('node:zlib');
      const gz = i % 2 === 0;
      const data = gz ? gzipSync(tarBytes(l)) : tarBytes(l);
      layerDescs.push({ mediaType: `application/vnd.oci.image.layer.v1.tar${gz ? '+gzip' : ''}`, ...(await blob(layout, data)) });
    }
    const manifest = await blob(
      layout,
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: layerDescs }),
    );
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { os: 'linux', architecture: 'amd64' } }] }),
    );
    return layout;
  }

  it('applies layers in order with whiteouts and opaque directories', async () => {
    const layout = await makeLayout('layout-ok', [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/keep', content: 'keep' },
        { path: 'etc/gone', content: 'gone' },
        { path: 'var/', type: 'dir' },
        { path: 'var/cache/', type: 'dir' },
        { path: 'var/cache/old1', content: '1' },
        { path: 'var/cache/old2', content: '2' },
        { path: 'app', content: 'v1' },
      ],
      [
        { path: 'etc/.wh.gone', content: '' },
        { path: 'var/cache/.wh..wh..opq', content: '' },
        { path: 'var/cache/new', content: 'n' },
        { path: 'app', content: 'v2' },
      ],
    ]);
    const info = await importOciLayout(layout, join(tmp, 'img-layout-ok'), { arch: 'amd64' });
    assert.equal(readFileSync(join(info.rootfs, 'etc/keep'), 'utf8'), 'keep');
    assert.equal(existsSync(join(info.rootfs, 'etc/gone')), false);
    assert.deepEqual((await readdir(join(info.rootfs, 'var/cache'))).sort(), ['new']);
    assert.equal(readFileSync(join(info.rootfs, 'app'), 'utf8'), 'v2');
    assert.equal(existsSync(join(info.rootfs, 'etc/.wh.gone')), false, 'whiteout markers are not extracted');
    assert.deepEqual([info.os, info.arch], ['linux', 'amd64']);
  });

  it('rejects a layer writing through a symlink made by a lower layer', async () => {
    const layout = await makeLayout('layout-evil', [[{ path: 'etc', type: 'symlink', linkTarget: '/tmp' }], [{ path: 'etc/evil', content: 'x' }]]);
    await assert.rejects(importOciLayout(layout, join(tmp, 'img-layout-evil'), { arch: 'amd64' }), rejected);
    assert.equal(existsSync(join(tmp, 'img-layout-evil/rootfs')), false);
  });

  it('rejects a blob whose bytes do not match its digest, and malformed digests', async () => {
    const layout = await makeLayout('layout-tampered', [[{ path: 'a', content: 'a' }]]);
    const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
    await writeFile(join(layout, 'blobs/sha256', manifest.layers[0].digest.slice(7)), 'tampered');
    await assert.rejects(importOciLayout(layout, join(tmp, 'img-tampered'), { arch: 'amd64' }), rejected);
    idx.manifests[0].digest = 'sha256:../../../etc/passwd';
    await writeFile(join(layout, 'index.json'), JSON.stringify(idx));
    await assert.rejects(importOciLayout(layout, join(tmp, 'img-tampered'), { arch: 'amd64' }), rejected);
  });
});
