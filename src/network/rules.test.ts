import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeRule, parseRuleText, ruleText } from './rules.ts';

test('rule text parses to the stored form and back', () => {
  assert.deepEqual(parseRuleText('ingress tcp 80 0.0.0.0/0', 'r'), { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80, remoteCidr: '0.0.0.0/0' });
  assert.deepEqual(parseRuleText('ingress udp 8000-8080 sg:web', 'r'), { direction: 'ingress', protocol: 'udp', portMin: 8000, portMax: 8080, remoteGroup: 'web' });
  assert.deepEqual(parseRuleText('egress any', 'r'), { direction: 'egress', protocol: 'any' });
  assert.deepEqual(parseRuleText('INGRESS TCP all 10.0.0.0/8', 'r'), { direction: 'ingress', protocol: 'tcp', remoteCidr: '10.0.0.0/8' });
  assert.deepEqual(parseRuleText('ingress icmp 10.1.2.3/24', 'r'), { direction: 'ingress', protocol: 'icmp', remoteCidr: '10.1.2.0/24' });
  for (const t of ['ingress tcp 80 0.0.0.0/0', 'ingress udp 1-2 sg:a', 'egress any']) assert.equal(ruleText(parseRuleText(t, 'r')), t);
});

test('bad rules name the field', () => {
  const cases: [string, string][] = [
    ['ingress', '/spec/rules/0'], ['sideways tcp 80', '/spec/rules/0/direction'], ['ingress tcpx 80', '/spec/rules/0/protocol'],
    ['ingress tcp 0', '/spec/rules/0'], ['ingress tcp 70000', '/spec/rules/0'], ['ingress tcp 90-80', '/spec/rules/0/portMax'],
    ['ingress tcp 80 10.0.0/8', '/spec/rules/0/remoteCidr'], ['ingress icmp 80', '/spec/rules/0/portMin'],
    ['ingress tcp 80 0.0.0.0/0 extra', '/spec/rules/0'], ['ingress tcp 80 sg:Bad_Name', '/spec/rules/0/remoteGroup'],
  ];
  for (const [text, field] of cases) {
    assert.throws(() => normalizeRule(text, '/spec/rules/0'), (e: Error & { field?: string; code?: string }) => e.code === 'ValidationFailed' && e.field === field, text);
  }
  assert.throws(() => normalizeRule({ direction: 'ingress', protocol: 'tcp', remoteCidr: '1.0.0.0/8', remoteGroup: 'x' }, 'r'), /not both/);
});
