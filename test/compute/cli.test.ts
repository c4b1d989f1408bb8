/** The `yun` CLI's compute commands against a real cloud (fake driver: the CLI is what is under test). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { type ComputeCloud, startComputeCloud } from './helpers.ts';

const exec = promisify(execFile);
const YUN = fileURLToPath(new URL('../../bin/yun.mjs', import.meta.url));

describe('yun CLI: flavor, image, instance, pool', () => {
  let cc: ComputeCloud;
  const fake = new FakeHost();
  let env: NodeJS.ProcessEnv;
  before(async () => {
    cc = await startComputeCloud({ compute: { driver: new FakeDriver({ host: fake }) } });
    env = { ...process.env, YUN_ENDPOINT: cc.c.endpoint, YUN_TOKEN: cc.c.token!, YUN_PROJECT: 'default', YUN_HOME: cc.home };
  });
  after(async () => { await cc.stop(); fake.shutdown(); });
  const yun = async (...args: string[]) => (await exec(process.execPath, [YUN, ...args], { env })).stdout;

  it('lists flavors, builds an image, creates an instance with user-data and a command, shows, logs, resizes, deletes', async () => {
    assert.match(await yun('flavor', 'list'), /m1\.tiny\s+1\s+512\s+1/);
    const img = JSON.parse(await yun('-o', 'json', 'image', 'build', 'busybox'));
    assert.equal(img.state, 'available');
    const ud = join(cc.home, 'init.sh');
    await writeFile(ud, '#!/bin/sh\necho from user-data\n');
    const created = JSON.parse(await yun('-o', 'json', 'instance', 'create', 'web1', '--image', 'busybox', '--flavor', 'm1.small',
      '--user-data', ud, '--env', 'A=b c', '--', 'echo', 'hello; not a shell'));
    assert.equal(created.state === 'running' || created.state === 'exited', true, created.state);
    const spec = fake.workloads.get(created.id)!.spec;
    assert.deepEqual(spec.command, ['echo', 'hello; not a shell']);
    assert.equal(spec.env!.A, 'b c');
    assert.equal(spec.userData, '#!/bin/sh\necho from user-data\n');
    assert.match(await yun('instance', 'list'), /web1\s+(running|exited)\s+busybox\s+m1\.small\s+1c\/2048M/);
    assert.match(await yun('instance', 'logs', 'web1'), /hello; not a shell/);
    const shown = JSON.parse(await yun('-o', 'json', 'instance', 'show', 'web1'));
    assert.equal(shown.spec.hostname ?? shown.name, 'web1');
    assert.match(await yun('pool', 'list'), /default\s+1/);
    await yun('instance', 'delete', 'web1');
    let gone = '';
    for (let i = 0; i < 50 && !gone; i++) gone = await yun('instance', 'show', 'web1').then(() => '', (e: Error) => e.message);
    assert.match(gone, /not found/);
  });
});
