/**
 * Controller tests: state the driver actions expected, run one sync, compare.
 * The driver is the in-memory host driver with every call recorded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../core/log.ts';
import { openStore } from '../store/index.ts';
import { EventBus, Resources, coreMigrations } from '../store/resources.ts';
import { NetworkController } from './controller.ts';
import { HostNetworkDriver } from './drivers/host/driver.ts';
import type { NetworkDriver } from './drivers/types.ts';
import { NodeLoadBalancer } from './lb/node.ts';
import { networkMigrations } from './migrations.ts';
import { type Port, deletePortsOfInstance, insertPort } from './ports.ts';
import { KIND } from './types.ts';

type Call = [string, ...unknown[]];

/** Records every call; reports per-instance addresses so rules carry the instances' own IPs. */
function recording(d: NetworkDriver, calls: Call[]): NetworkDriver {
  return new Proxy(d, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === 'capabilities') return { ...(v as object), perInstanceAddress: true };
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => { calls.push([String(prop), ...args]); return v.apply(target, args); };
    },
  });
}

test('sync applies exactly the difference: new objects, rule changes, group membership', async () => {
  const store = await openStore('sqlite::memory:');
  await store.migrate([...coreMigrations, ...networkMigrations]);
  const calls: Call[] = [];
  const lb = new NodeLoadBalancer();
  const ctl = new NetworkController({ store, bus: new EventBus(store), driver: recording(new HostNetworkDriver(), calls), lb, log: createLogger('silent'), orphanPortGraceMs: Number.POSITIVE_INFINITY });
  const res = new Resources(store);
  const net = await res.create({ kind: KIND.network, project: 'p1', name: 'backend', idPrefix: 'net', spec: { cidr: '10.9.0.0/24', gateway: '10.9.0.1', mtu: 1500, nat: false } });
  const web = await res.create({ kind: KIND.securityGroup, project: 'p1', name: 'web', idPrefix: 'sg', spec: { rules: [
    { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80, remoteCidr: '0.0.0.0/0' },
    { direction: 'ingress', protocol: 'icmp', remoteGroup: 'web' },
  ] } });
  await res.create({ kind: KIND.securityGroup, project: 'p1', name: 'db', idPrefix: 'sg', spec: { rules: [{ direction: 'ingress', protocol: 'tcp', portMin: 5432, portMax: 5432, remoteGroup: 'web' }] } });
  const port = (i: string, ip: string, groups: string[]): Port => ({ portId: `p-${i}`, networkId: net.id, project: 'p1', instanceId: `i-${i}`, instanceName: i, ip, securityGroups: groups, dnsName: `${i}.backend.internal`, nic: 0, kind: 'veth', createdAt: new Date().toISOString() });
  for (const p of [port('a', '10.9.0.2', ['web']), port('b', '10.9.0.3', ['web']), port('c', '10.9.0.4', ['db'])]) await insertPort(store, p);

  await ctl.sync();
  const attach = (i: string, ip: string, securityRules: unknown[]) => ['attach', { networkId: net.id, portId: `p-${i}`, instanceId: `i-${i}`, ip, dnsName: `${i}.backend.internal`, securityRules, nic: 'veth' }];
  const http = { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80, remoteCidr: '0.0.0.0/0' };
  const icmpFrom = (...m: string[]) => ({ direction: 'ingress', protocol: 'icmp', remoteGroupMembers: m });
  const pgFrom = (...m: string[]) => ({ direction: 'ingress', protocol: 'tcp', portMin: 5432, portMax: 5432, remoteGroupMembers: m });
  assert.deepEqual(calls, [
    ['ensureNetwork', { id: net.id, cidr: '10.9.0.0/24', gateway: '10.9.0.1', mtu: 1500, nat: false, dnsDomain: 'backend.internal' }],
    attach('a', '10.9.0.2', [http, icmpFrom('10.9.0.3')]),
    attach('b', '10.9.0.3', [http, icmpFrom('10.9.0.2')]),
    attach('c', '10.9.0.4', [pgFrom('10.9.0.2', '10.9.0.3')]),
  ]);
  assert.equal((await res.getById(net.id))?.status.state, 'active');

  calls.length = 0;
  await ctl.sync();
  assert.deepEqual(calls, [], 'nothing changed, nothing done');

  // A rule added to `web` reaches its members only, as a rule replacement (no re-attach).
  const ssh = { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidr: '10.9.0.0/24' };
  await res.updateSpec(web, { spec: { rules: [...(web.spec as { rules: unknown[] }).rules, ssh] } });
  await ctl.sync();
  assert.deepEqual(calls, [
    ['applySecurityGroups', 'p-a', [http, icmpFrom('10.9.0.3'), ssh]],
    ['applySecurityGroups', 'p-b', [http, icmpFrom('10.9.0.2'), ssh]],
  ]);

  // b leaves: its NIC goes; a and c see the new membership of `web`.
  calls.length = 0;
  await deletePortsOfInstance(store, 'i-b');
  await ctl.sync();
  assert.deepEqual(calls, [
    ['applySecurityGroups', 'p-a', [http, icmpFrom(), ssh]],
    ['applySecurityGroups', 'p-c', [pgFrom('10.9.0.2')]],
    ['detach', 'p-b'],
  ]);
  await ctl.stop();
  await store.close();
});
