import assert from 'node:assert/strict';
import { test } from 'node:test';
import { YunError } from '../core/errors.ts';
import { allocateNext, broadcastOf, findOverlap, formatIpv4, gatewayOf, overlaps, parseCidr, parseIpv4, parseSubnet, validateIpv4, validateStatic } from './ipam.ts';

const fieldErr = (field: string) => (e: unknown) => e instanceof YunError && e.code === 'ValidationFailed' && e.field === field;

test('parseIpv4 accepts only strict dotted quads', () => {
  assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.-1', '', 'a.b.c.d', 42, null, '1.2.3.4\n']) {
    assert.equal(parseIpv4(bad), undefined, String(bad));
  }
  assert.equal(formatIpv4(0xc0a80101), '192.168.1.1');
});

test('parseCidr validates and names the field', () => {
  assert.deepEqual(parseCidr('10.1.0.0/16'), { network: 0x0a010000, prefix: 16, text: '10.1.0.0/16' });
  assert.throws(() => parseCidr('10.1.0.1/16', 'spec/cidr'), fieldErr('spec/cidr'));
  assert.equal(parseCidr('10.1.0.1/16', 'c', { strict: false }).text, '10.1.0.0/16');
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0', '10.0.0.0/024', 'x/8', '10.0.0.0/8; drop', 5]) {
    assert.throws(() => parseCidr(bad, 'cidr'), fieldErr('cidr'), String(bad));
  }
  assert.throws(() => parseSubnet('10.0.0.0/30'), fieldErr('cidr'));
  assert.throws(() => parseSubnet('10.0.0.0/7'), fieldErr('cidr'));
  assert.equal(parseSubnet('0.0.0.0/0'.replace('/0', '/8')).text, '0.0.0.0/8');
  assert.equal(parseCidr('0.0.0.0/0').text, '0.0.0.0/0');
});

test('overlap', () => {
  const a = parseCidr('10.0.0.0/16');
  assert.ok(overlaps(a, parseCidr('10.0.5.0/24')));
  assert.ok(overlaps(parseCidr('10.0.5.0/24'), a));
  assert.ok(!overlaps(a, parseCidr('10.1.0.0/16')));
  assert.equal(findOverlap(parseCidr('10.1.2.0/24'), ['10.0.0.0/16', '10.1.0.0/20'])?.text, '10.1.0.0/20');
  assert.equal(findOverlap(parseCidr('192.168.0.0/24'), ['10.0.0.0/8']), undefined);
});

test('gateway, broadcast and allocation', () => {
  const c = parseCidr('10.0.0.0/29');
  assert.equal(gatewayOf(c), '10.0.0.1');
  assert.equal(formatIpv4(broadcastOf(c)), '10.0.0.7');
  assert.equal(allocateNext(c, []), '10.0.0.2');
  assert.equal(allocateNext(c, ['10.0.0.2', '10.0.0.4']), '10.0.0.3');
  assert.equal(allocateNext(c, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']), '10.0.0.6');
  assert.throws(
    () => allocateNext(c, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']),
    (e: unknown) => e instanceof YunError && e.code === 'Conflict',
  );
  // A custom gateway frees .1 and reserves its own address.
  assert.equal(allocateNext(c, [], '10.0.0.6'), '10.0.0.1');
});

test('static address validation', () => {
  const c = parseCidr('10.0.0.0/24');
  assert.equal(validateStatic(c, '10.0.0.9'), '10.0.0.9');
  assert.throws(() => validateStatic(c, '10.0.1.9', [], undefined, 'spec/ip'), fieldErr('spec/ip'));
  assert.throws(() => validateStatic(c, '10.0.0.0'), fieldErr('ip'));
  assert.throws(() => validateStatic(c, '10.0.0.255'), fieldErr('ip'));
  assert.throws(() => validateStatic(c, '10.0.0.1'), fieldErr('ip'));
  assert.throws(() => validateStatic(c, 'nope'), fieldErr('ip'));
  assert.throws(() => validateStatic(c, '10.0.0.9', ['10.0.0.9']), (e: unknown) => e instanceof YunError && e.code === 'Conflict');
  assert.equal(validateIpv4('1.2.3.4'), '1.2.3.4');
});
