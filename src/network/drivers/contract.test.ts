import { test } from 'node:test';
import { runNetworkDriverContract } from './contract.ts';
import { FakeNetworkDriver } from './fake/driver.ts';
import { HostNetworkDriver } from './host/driver.ts';

test('fake driver passes the network driver contract', (t) => runNetworkDriverContract(t, async () => new FakeNetworkDriver(), { base: '10.253', hostPort: 38201 }));
test('host driver passes the network driver contract', (t) => runNetworkDriverContract(t, async () => new HostNetworkDriver({ portRange: [38300, 38399] }), { base: '10.253', hostPort: 38202 }));
