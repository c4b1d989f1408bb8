import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Names } from './linux/names.ts';
import { fullRuleset, portRuleset } from './linux/ruleset.ts';
import { emptyState } from './linux/state.ts';
import { publishClash, validateAttach, validateNetwork, validatePublish, validateRules } from './validate.ts';

const field = (f: string) => (e: unknown) => (e as { field?: string }).field === f;

test('hostile values never reach nft: each is refused naming its field', () => {
  assert.throws(() => validateNetwork({ id: 'n"; flush ruleset', cidr: '10.0.0.0/24', gateway: '10.0.0.1', nat: false }), field('id'));
  assert.throws(() => validateNetwork({ id: 'n', cidr: '10.0.0.0/24 } ', gateway: '10.0.0.1', nat: false }), field('cidr'));
  assert.throws(() => validateNetwork({ id: 'n', cidr: '10.0.0.0/24', gateway: '10.0.1.1', nat: false }), field('gateway'));
  assert.throws(() => validateNetwork({ id: 'n', cidr: '10.0.0.0/24', gateway: '10.0.0.1', nat: false, mtu: 99999 }), field('mtu'));
  assert.throws(() => validateRules([{ direction: 'ingress', protocol: 'tcp; drop' as 'tcp' }]), field('rules/0/protocol'));
  assert.throws(() => validateRules([{ direction: 'ingress', protocol: 'tcp', portMin: 90, portMax: 80 }]), field('rules/0/portMax'));
  assert.throws(() => validateRules([{ direction: 'ingress', protocol: 'tcp', portMin: 0 }]), field('rules/0/portMin'));
  assert.throws(() => validateRules([{ direction: 'egress', protocol: 'any', remoteGroupMembers: ['10.0.0.1', '1.2.3.4 }'] }]), field('rules/0/remoteGroupMembers/1'));
  assert.throws(() => validateAttach({ networkId: 'n', portId: 'p', instanceId: 'i', ip: '10.0.0.2', mac: '03:00:00:00:00:01' }), field('mac'));
  assert.throws(() => validateAttach({ networkId: 'n', portId: 'p', instanceId: 'i', ip: '10.0.0.2', dnsName: 'bad name' }), field('dnsName'));
  assert.throws(() => validatePublish({ id: 'x', hostIp: '0.0.0.0', hostPort: 80, protocol: 'sctp' as 'tcp', targetIp: '10.0.0.2', targetPort: 80 }), field('protocol'));
});

test('publish clash', () => {
  const a = { id: 'a', hostIp: '0.0.0.0', hostPort: 80, protocol: 'tcp' as const, targetIp: '10.0.0.2', targetPort: 80 };
  assert.ok(publishClash(a, { ...a, id: 'b', hostIp: '127.0.0.1' }));
  assert.ok(!publishClash(a, { ...a, id: 'b', protocol: 'udp' }));
  assert.ok(!publishClash({ ...a, hostIp: '127.0.0.1' }, { ...a, id: 'b', hostIp: '127.0.0.2' }));
});

test('ruleset: isolation, per-port chains, publish, metadata, and full removal when empty', () => {
  const n = new Names('yun');
  const s = emptyState();
  assert.equal(fullRuleset(s, n, { dnsPort: 53 }).includes('{'), false, 'nothing owned → only deletions');
  s.networks.n1 = validateNetwork({ id: 'n1', cidr: '10.0.0.0/24', gateway: '10.0.0.1', nat: true });
  s.ports.p1 = { networkId: 'n1', portId: 'p1', instanceId: 'i1', ip: '10.0.0.2', mac: n.mac('p1'), ifname: 'eth0', rules: validateRules([{ direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidr: '192.168.0.0/16' }]) };
  s.published.x = { id: 'x', hostIp: '0.0.0.0', hostPort: 8080, protocol: 'tcp', targetIp: '10.0.0.2', targetPort: 80 };
  const text = fullRuleset(s, n, { dnsPort: 53, metadata: { host: '127.0.0.1', port: 8775 } });
  const b = n.bridge('n1');
  assert.match(text, new RegExp(`iifname "${b}" oifname "yunb\\*" oifname != "${b}" drop`));
  assert.match(text, /ip saddr 192\.168\.0\.0\/16 meta l4proto tcp th dport 22 return/);
  assert.match(text, /fib daddr type local tcp dport 8080 dnat to 10\.0\.0\.2:80/);
  assert.match(text, /ip daddr 169\.254\.169\.254 tcp dport 80 dnat to 127\.0\.0\.1:8775/);
  assert.match(text, /ip saddr 10\.0\.0\.0\/24 oifname != "yunb\*" masquerade/);
  const port = portRuleset(s.ports.p1, '10.0.0.1', n, { dnsPort: 53 });
  assert.match(port, new RegExp(`^flush chain inet yun ${n.ingressChain('p1')}`));
  assert.ok(n.bridge('n1').length <= 15 && n.hostVeth('p1').length <= 15 && n.tmpPeer('p1').length <= 15);
  assert.ok(new Names('abcde').hostVeth('p').length <= 15);
  assert.throws(() => new Names('toolong'));
});
