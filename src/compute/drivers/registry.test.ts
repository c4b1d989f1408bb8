import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHost } from './fake/driver.ts';
import { detectComputeDrivers } from './registry.ts';

test('detectComputeDrivers reports the host and picks the best available rootfs driver', async () => {
  const host = new FakeHost();
  const r = await detectComputeDrivers({ stateDir: '/tmp/yun-registry-test', fakeHost: host });
  assert.equal(typeof r.report.root, 'boolean');
  assert.ok(['v1', 'hybrid', 'v2', 'none'].includes(r.report.cgroups));
  assert.deepEqual(JSON.parse(JSON.stringify(r.report)), r.report, 'report is plain data');
  const names = r.report.drivers.map((d) => d.name);
  for (const n of ['oci', 'process', 'qemu', 'fake']) assert.ok(names.includes(n), n);
  // The chosen driver is the first available in preference order.
  const expected = ['oci', 'process', 'fake'].find((n) => r.report.drivers.find((d) => d.name === n)?.capabilities?.available);
  assert.equal(r.report.chosen, expected);
  assert.equal(r.chosen?.name, expected);
  if (r.report.root && r.report.crun) assert.equal(r.report.chosen, 'oci');
  const onlyFake = await detectComputeDrivers({ stateDir: '/tmp/yun-registry-test', fakeHost: host, only: ['fake'] });
  assert.equal(onlyFake.chosen?.name, 'fake');
  assert.deepEqual(Object.keys(onlyFake.drivers), ['fake']);
});
