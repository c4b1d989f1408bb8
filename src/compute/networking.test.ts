/**
 * The InstanceNetworking seam, exercised through the compute module with a
 * recording implementation: prepare before the first start (its netns,
 * addresses and files reach the workload spec and the instance status),
 * release after the workload is deleted, and the metadata service
 * identifying the caller by the source address prepare handed out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compute } from '../sdk/compute.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from '../../test/compute/helpers.ts';
import { FakeDriver, FakeHost } from './drivers/fake/driver.ts';
import type { InstanceNetworking, NetworkedInstance, PreparedNetwork } from './networking.ts';

class RecordingNetworking implements InstanceNetworking {
  readonly name = 'recording';
  readonly calls: string[] = [];
  async prepare(i: NetworkedInstance): Promise<PreparedNetwork> {
    this.calls.push(`prepare ${i.name} ${JSON.stringify(i.networks ?? [])}`);
    return { addresses: [{ network: 'net1', ip: '10.77.0.5' }], files: [{ path: '/etc/resolv.conf', content: 'nameserver 10.77.0.1\n' }] };
  }
  async release(i: NetworkedInstance): Promise<void> {
    this.calls.push(`release ${i.name}`);
  }
}

describe('InstanceNetworking seam', () => {
  let cc: ComputeCloud;
  const fake = new FakeHost();
  const net = new RecordingNetworking();
  before(async () => {
    cc = await startComputeCloud({ compute: { driver: new FakeDriver({ host: fake }), networking: net } });
    await buildImage(cc.c, 'busybox', 'busybox');
  });
  after(async () => { await cc.stop(); fake.shutdown(); });

  it('prepare → addresses in status, files and metadata in the workload; metadata by source IP; release on delete', async () => {
    const vm = await compute(cc.c).flavor('m1.tiny').launch({ name: 'n1', image: 'busybox', networks: ['net1'], userData: '#!/bin/sh\ntrue\n' });
    const r = await vm.waitFor('running', 10_000);
    assert.deepEqual(r.status.addresses, [{ network: 'net1', ip: '10.77.0.5' }]);
    assert.deepEqual(net.calls, ['prepare n1 ["net1"]']);
    const spec = fake.workloads.get(r.id)!.spec;
    assert.ok(spec.files!.some((f) => f.path === '/etc/resolv.conf'));
    const meta = JSON.parse(String(spec.files!.find((f) => f.path === '/run/yun/meta_data.json')!.content));
    assert.deepEqual(meta.network, [{ network: 'net1', ip: '10.77.0.5' }]);
    assert.equal(spec.env!.YUN_METADATA_URL, r.status.metadataUrl);
    const md = cc.mod.metadata!;
    assert.deepEqual(await md.handle('/latest/meta-data/instance-id', '10.77.0.5'), [200, r.id, 'text/plain; charset=utf-8']);
    assert.deepEqual(await md.handle('/latest/meta-data/local-ipv4', '::ffff:10.77.0.5'), [200, '10.77.0.5', 'text/plain; charset=utf-8']);
    assert.equal((await md.handle('/latest/user-data', '10.77.0.5'))[1], '#!/bin/sh\ntrue\n');
    assert.equal((await md.handle('/latest/meta-data/instance-id', '10.77.0.99'))[0], 404);
    await vm.delete();
    for (let i = 0; i < 100 && !net.calls.includes('release n1'); i++) await new Promise((x) => setTimeout(x, 50));
    assert.deepEqual(net.calls, ['prepare n1 ["net1"]', 'release n1']);
  });
});
