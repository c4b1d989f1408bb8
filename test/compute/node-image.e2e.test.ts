/** `yun image build node` makes a runtime image that runs a Node.js program in a real crun container. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from './helpers.ts';

describe('node image (oci driver, real crun)', () => {
  let cc: ComputeCloud | undefined;
  const ok = isRoot() && (existsSync('/usr/bin/crun') || existsSync('/usr/bin/runc')) && existsSync('/bin/busybox');
  before(async () => {
    if (!ok) return;
    cc = await startComputeCloud({ compute: { driver: 'oci' } });
    await buildImage(cc.c, 'node', 'node');
  });
  after(async () => { await cc?.stop(); });

  it('runs node inside the container with the metadata document at hand', async (t) => {
    if (!requireCapability(t, ok, 'needs root, crun (or runc) and busybox-static')) return;
    const vm = await compute(cc!.c).flavor('m1.small').launch({ name: 'app', image: 'node', restartPolicy: 'never',
      command: ['node', '-e', 'const m = JSON.parse(require("fs").readFileSync("/run/yun/meta_data.json")); console.log("node", process.version, m.name, require("os").hostname())'] });
    const r = await cc!.c.resource('instances').waitFor('app', (x) => ['exited', 'error', 'OOMKilled'].includes(String(x.status.state)), 60_000);
    assert.equal(r.status.exitCode, 0, JSON.stringify(r.status));
    assert.match(await vm.logs(), new RegExp(`node ${process.version} app app`));
    await vm.delete();
  });
});
