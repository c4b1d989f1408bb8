import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateNetwork } from '../validate.ts';
import { Names } from './names.ts';
import { planState } from './plan.ts';
import { emptyState } from './state.ts';

const names = new Names('yun');
const net = validateNetwork({ id: 'n', cidr: '10.0.0.0/24', gateway: '10.0.0.1', nat: false });

test('reconcile plan keeps NIC names of ports that stay, new ports take free ones', () => {
  const old = emptyState();
  old.ports.p0 = { networkId: 'n', portId: 'p0', instanceId: 'i', ip: '10.0.0.2', mac: names.mac('p0'), ifname: 'eth0', rules: [] };
  old.ports.p1 = { networkId: 'n', portId: 'p1', instanceId: 'i', ip: '10.0.0.3', mac: names.mac('p1'), ifname: 'eth1', rules: [] };
  // new port listed first must not steal eth0 from p0
  const next = planState({
    networks: [net],
    ports: [
      { networkId: 'n', portId: 'pnew', instanceId: 'i', ip: '10.0.0.4' },
      { networkId: 'n', portId: 'p1', instanceId: 'i', ip: '10.0.0.3' },
      { networkId: 'n', portId: 'p0', instanceId: 'i', ip: '10.0.0.2' },
    ],
    published: [], dns: {},
  }, old, names);
  assert.deepEqual([next.ports.p0!.ifname, next.ports.p1!.ifname, next.ports.pnew!.ifname], ['eth0', 'eth1', 'eth2']);
});

test('reconcile plan refuses overlaps, duplicate addresses and unknown networks', () => {
  const net2 = validateNetwork({ id: 'm', cidr: '10.0.0.0/16', gateway: '10.0.0.1', nat: false });
  const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
  assert.throws(() => planState({ networks: [net, net2], ports: [], published: [], dns: {} }, emptyState(), names), code('Conflict'));
  assert.throws(() => planState({ networks: [net], ports: [
    { networkId: 'n', portId: 'a', instanceId: 'i', ip: '10.0.0.5' },
    { networkId: 'n', portId: 'b', instanceId: 'j', ip: '10.0.0.5' },
  ], published: [], dns: {} }, emptyState(), names), code('Conflict'));
  assert.throws(() => planState({ networks: [net], ports: [{ networkId: 'x', portId: 'a', instanceId: 'i', ip: '10.0.0.5' }], published: [], dns: {} }, emptyState(), names), code('ValidationFailed'));
  assert.throws(() => planState({ networks: [net], ports: [{ networkId: 'n', portId: 'a', instanceId: 'i', ip: '10.0.0.255' }], published: [], dns: {} }, emptyState(), names), code('ValidationFailed'));
});
