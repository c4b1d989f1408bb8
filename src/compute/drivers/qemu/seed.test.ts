import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireCapability } from '../../../../test/helpers/capability.ts';
import { buildSeedImage } from './seed.ts';

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]);
    return true;
  } catch {
    return false;
  }
};

describe('NoCloud seed image', () => {
  it('is an ISO labelled cidata holding user-data, meta-data, network-config and injected files', async (t) => {
    if (!requireCapability(t, has('genisoimage') && has('isoinfo'), 'genisoimage/isoinfo missing (Debian: genisoimage)')) return;
    const dir = await mkdtemp(join(tmpdir(), 'yun-seed-'));
    try {
      const iso = join(dir, 'seed.iso');
      await buildSeedImage(iso, {
        instanceId: 'i-1',
        hostname: 'web-1',
        userData: '#!/bin/sh\necho hi\n',
        files: [{ path: '/etc/app/conf', content: 'x=1', mode: 0o600 }],
      });
      const read = (p: string) => execFileSync('isoinfo', ['-R', '-i', iso, '-x', p], { encoding: 'utf8' });
      assert.equal(read('/user-data'), '#!/bin/sh\necho hi\n');
      assert.equal(read('/meta-data'), 'instance-id: "i-1"\nlocal-hostname: "web-1"\n');
      assert.match(read('/network-config'), /^version: 2/);
      assert.equal(read('/yun-files/etc/app/conf'), 'x=1');
      assert.match(execFileSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' }), /Volume id: cidata/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
