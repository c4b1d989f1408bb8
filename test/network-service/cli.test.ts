/**
 * The `yun network|subnet|sg|fip|lb` commands, run as the real `yun` binary
 * against a cloud (host driver: no root needed; the data plane itself is
 * covered by api.test.ts and e2e.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { yunCli } from '../helpers/cli.ts';
import { rmrf, startNetCloud, tmp } from './helpers.ts';


test('yun network, subnet, sg, fip, lb commands', { timeout: 120_000 }, async () => {
  const stateDir = await tmp('yun-netsvc-cli-');
  const cloud = await startNetCloud({ prefix: 'ycl', stateDir, opts: { driver: 'host' } });
  const { yun, json } = yunCli({ endpoint: cloud.cloud.apiUrl, token: cloud.admin.token!, home: cloud.home });
  try {
    const n = await json('network', 'create', 'backend', '--cidr', '10.217.0.0/24', '--mtu', '1400');
    assert.equal(n.spec.gateway, '10.217.0.1');
    assert.equal(n.spec.mtu, 1400);
    let r = await yun('network', 'create', 'clash', '--cidr', '10.217.0.0/25');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /field \/spec\/cidr/);
    const nets = await json('network', 'list');
    assert.deepEqual(nets.map((x: { name: string }) => x.name).sort(), ['backend', 'default'], 'a default network exists per project');
    r = await yun('subnet', 'list');
    assert.match(r.stdout, /backend\s+10\.217\.0\.0\/24\s+10\.217\.0\.1\s+0\s+253/);

    const g = await json('sg', 'create', 'web', '--rule', 'ingress tcp 80 0.0.0.0/0', '--rule', 'ingress tcp 22 10.217.0.0/24');
    assert.equal(g.spec.rules.length, 2);
    r = await yun('sg', 'rule', 'add', 'web', 'ingress tcp 8080 10.217.0.0/24');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ingress tcp 8080 10\.217\.0\.0\/24/);
    r = await yun('sg', 'rule', 'delete', 'web', 'ingress tcp 22 10.217.0.0/24');
    assert.doesNotMatch(r.stdout, /tcp 22/);
    r = await yun('sg', 'rule', 'add', 'web', 'ingress tcp eighty');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /field \/rule/);
    r = await yun('sg', 'create', 'bad', '--rule', 'ingress tcp 80 sg:nope');
    assert.match(r.stderr, /NotFound/);

    const projectId = (await cloud.admin.projects.get('default')).id as string;
    await cloud.net.networking.prepare({ id: 'i-cli-1', name: 'app1', project: projectId, networks: ['backend'], securityGroups: ['web'], hostname: 'app1' });
    r = await yun('subnet', 'show', 'backend');
    assert.match(r.stdout, /10\.217\.0\.2\s+app1\s+app1\.backend\.internal/);
    const f = await json('fip', 'create', '--instance', 'app1', '--port', '80', '--host-port', '18641');
    assert.equal(f.name, 'app1-80');
    r = await yun('fip', 'create', 'again', '--instance', 'app1', '--port', '81', '--host-port', '18641');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already published.*field \/spec\/hostPort/);
    const lb = await json('lb', 'create', 'web-lb', '--network', 'backend', '--listener', 'http:18642', '--members', 'app1:80', '--health', '/healthz', '--interval', '500');
    assert.deepEqual(lb.spec.listeners, [{ protocol: 'http', port: 18642, hostIp: '0.0.0.0' }]);
    assert.equal(lb.spec.healthCheck.path, '/healthz');
    r = await yun('lb', 'list');
    assert.match(r.stdout, /web-lb\s+backend\s+round-robin\s+http:18642/);
    r = await yun('network', 'delete', 'backend');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /InvalidState/);
    for (const args of [['lb', 'delete', 'web-lb'], ['fip', 'delete', 'app1-80']]) assert.equal((await yun(...args)).code, 0);
    await cloud.net.networking.release({ id: 'i-cli-1', name: 'app1', project: projectId, hostname: 'app1' });
    assert.equal((await yun('network', 'delete', 'backend')).code, 0);
    assert.equal((await yun('sg', 'delete', 'web')).code, 0);
  } finally {
    await cloud.stop();
    await rmrf(cloud.home);
    await rmrf(stateDir);
  }
});
