/**
 * The shared contract suite every NetworkDriver runs (fake, host here; the
 * linux driver additionally runs test/network/linux-driver.test.ts against the
 * kernel, and can run this suite via `runNetworkDriverContract`). It checks
 * the promises written in types.ts: idempotency, delete-of-missing succeeds,
 * conflicts refused, validation names fields, reconcile converges.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { NetworkDriver } from './types.ts';

export interface ContractOptions {
  /** Distinct CIDR base for this run, e.g. `10.252` → 10.252.1.0/24, 10.252.2.0/24. */
  base: string;
  /** Host port for published-port checks. */
  hostPort: number;
}

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

export async function runNetworkDriverContract(t: TestContext, open: () => Promise<NetworkDriver>, o: ContractOptions): Promise<void> {
  const d = await open();
  const n1 = { id: 'c-net-1', cidr: `${o.base}.1.0/24`, gateway: `${o.base}.1.1`, nat: false };
  const n2 = { id: 'c-net-2', cidr: `${o.base}.2.0/24`, gateway: `${o.base}.2.1`, nat: false };
  const p1 = { networkId: 'c-net-1', portId: 'c-port-1', instanceId: 'c-inst-1', ip: `${o.base}.1.5`, dnsName: 'one.c-net-1.internal' };
  const pub = { id: 'c-pub', hostIp: '127.0.0.1', hostPort: o.hostPort, protocol: 'tcp' as const, targetIp: p1.ip, targetPort: 80 };
  try {
    await t.test('capabilities are data', () => {
      for (const k of ['isolation', 'securityGroupsEnforced', 'dns', 'metadata'] as const) assert.equal(typeof d.capabilities[k], 'boolean');
      assert.equal(typeof d.capabilities.kind, 'string');
    });
    await t.test('ensure/attach/publish are idempotent; deletes of missing succeed', async () => {
      await d.ensureNetwork(n1);
      await d.ensureNetwork(n1);
      await d.ensureNetwork(n2);
      const a = await d.attach(p1);
      const b = await d.attach(p1);
      assert.deepEqual(a, b);
      await d.publishPort(pub);
      await d.publishPort(pub);
      await d.unpublishPort('c-missing');
      await d.detach('c-missing');
      await d.deleteNetwork('c-missing');
    });
    await t.test('validation names the field; conflicts are refused', async () => {
      await assert.rejects(d.ensureNetwork({ ...n1, cidr: '10.0.0.1/24' }), (e: { field?: string }) => e.field === 'cidr');
      await assert.rejects(d.attach({ ...p1, ip: 'x' }), (e: { field?: string }) => e.field === 'ip');
      await assert.rejects(d.attach({ ...p1, networkId: 'c-nope' }), code('NotFound'));
      await assert.rejects(d.publishPort({ ...pub, id: 'c-pub-2' }), code('Conflict'));
      await assert.rejects(d.deleteNetwork('c-net-1'), code('InvalidState'));
      await assert.rejects(d.applySecurityGroups('c-missing', []), code('NotFound'));
    });
    await t.test('security groups and DNS records are accepted for a live port', async () => {
      await d.applySecurityGroups('c-port-1', [{ direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80 }]);
      await d.setDnsRecords('c-net-1', [{ name: 'alias.c-net-1.internal', ip: p1.ip }]);
    });
    await t.test('reconcile converges to exactly the desired state', async () => {
      await d.reconcile({ networks: [n1], ports: [p1], publishedPorts: [] });
      const owned = await d.listOwned();
      assert.deepEqual(owned.networks, ['c-net-1']);
      assert.deepEqual(owned.ports, ['c-port-1']);
      assert.deepEqual(owned.publishedPorts, []);
      await d.reconcile({ networks: [], ports: [], publishedPorts: [] });
      assert.deepEqual(await d.listOwned(), { networks: [], ports: [], publishedPorts: [], instances: [] });
    });
  } finally {
    await d.reconcile({ networks: [], ports: [], publishedPorts: [] }).catch(() => undefined);
    await d.close();
  }
}
