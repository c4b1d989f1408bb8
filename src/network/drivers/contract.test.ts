import { test } from 'node:test';
import { runNetworkDriverContract } from './contract.ts';
import { FakeNetworkDriver } from './fake/driver.ts';
import { HostNetworkDriver } from './host/driver.ts';

// Fixed ports here stay below 32768: Linux hands out 32768–60999 as ephemeral client ports, so a
// fixed port in that range is sometimes taken by another test's connection (EADDRINUSE in CI).
test('fake driver passes the network driver contract', (t) => runNetworkDriverContract(t, async () => new FakeNetworkDriver(), { base: '10.253', hostPort: 28201 }));
test('host driver passes the network driver contract', (t) => runNetworkDriverContract(t, async () => new HostNetworkDriver({ portRange: [28300, 28399] }), { base: '10.253', hostPort: 28202 }));
