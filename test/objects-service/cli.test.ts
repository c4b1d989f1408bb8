import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Profiles } from '../../src/cli/profiles.ts';
import { objectsModule } from '../../src/objects/module.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/yun.mjs');
let tc: TestCloud;
const yun = async (...args: string[]) => (await run(process.execPath, [BIN, '--home', tc.home, ...args], { env: { ...process.env, YUN_HOME: tc.home } })).stdout;

before(async () => {
  tc = await startTestCloud({ modules: (config) => [objectsModule(config)] });
  await new Profiles(tc.home).save('default', { endpoint: tc.cloud.apiUrl, project: 'default' }, { token: tc.admin.token! });
});
after(async () => { await tc?.stop(); });

test('yun bucket / object: multipart upload, list, download byte for byte, delete', async () => {
  await yun('bucket', 'create', 'cli-bucket');
  assert.match(await yun('bucket', 'list'), /cli-bucket/);
  const big = randomBytes(20 * 1024 * 1024 + 123);
  const src = join(tc.home, 'big.bin');
  await writeFile(src, big);
  const put = JSON.parse(await yun('-o', 'json', 'object', 'put', src, 's3://cli-bucket/dir/'));
  assert.equal(put.key, 'dir/big.bin');
  assert.match(put.etag, /-3"?$/, 'three parts → a multipart ETag');
  assert.match(await yun('object', 'list', 'cli-bucket'), /dir\//);
  assert.match(await yun('object', 'list', 'cli-bucket/dir/'), /dir\/big\.bin\s+20971643/);
  const dst = join(tc.home, 'back.bin');
  await yun('object', 'get', 'cli-bucket/dir/big.bin', dst);
  const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(h(await readFile(dst)), h(big));
  // the access key the CLI made is kept in the 0600 credentials file
  const creds = await new Profiles(tc.home).readCredentials();
  assert.match(creds.default!.accessKeyId!, /^YK/);
  await yun('object', 'rm', 'cli-bucket/dir/big.bin');
  await yun('bucket', 'delete', 'cli-bucket');
  await assert.rejects(yun('object', 'get', 'cli-bucket/dir/big.bin', dst), /NoSuchBucket/);
});
