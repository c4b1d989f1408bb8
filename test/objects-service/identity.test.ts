import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { objectsModule } from '../../src/objects/module.ts';
import { YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

/** S3 through `yun up`'s wiring: real access keys, roles, policies and quotas from identity. */
let tc: TestCloud;
let s3url: string;

const client = (k: { accessKeyId: string; secretAccessKey: string }) => new S3Client({
  endpoint: s3url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey },
});

async function s3Error(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { name: string }).name;
  }
  assert.fail('expected an S3 error');
}

before(async () => {
  tc = await startTestCloud({ modules: (config) => [objectsModule(config)] });
  s3url = `http://127.0.0.1:${tc.cloud.config.s3Port}`;
});
after(async () => { await tc?.stop(); });

test('access keys from identity sign S3 requests; projects are walled; readers cannot write; quotas hold', async () => {
  const admin = tc.admin;
  const key = await admin.accessKeys.create('s3');
  const s3 = client(key);
  await s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
  await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'a.txt', Body: 'hello' }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello');
  assert.equal((await tc.admin.quotas.show()).items.find((q) => q.resource === 'buckets')!.used, 1);

  // Another project's member cannot read the bucket and does not see it listed.
  await admin.projects.create('other');
  await admin.users.create({ name: 'olga', password: 'olga-password-1', project: 'other', role: 'member' });
  const olga = new YunClient({ endpoint: tc.cloud.apiUrl, project: 'other' });
  await olga.login('olga', 'olga-password-1');
  const oKey = await olga.accessKeys.create();
  const o3 = client(oKey);
  assert.equal(await s3Error(o3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.txt' }))), 'AccessDenied');
  assert.deepEqual((await o3.send(new ListBucketsCommand({}))).Buckets ?? [], []);

  // A reader in the default project may read but not write.
  await admin.users.create({ name: 'rudi', password: 'rudi-password-1', project: 'default', role: 'reader' });
  const rudi = new YunClient({ endpoint: tc.cloud.apiUrl, project: 'default' });
  await rudi.login('rudi', 'rudi-password-1');
  const r3 = client(await rudi.accessKeys.create());
  assert.equal(await (await r3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.txt' }))).Body!.transformToString(), 'hello');
  assert.equal(await s3Error(r3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'b.txt', Body: 'x' }))), 'AccessDenied');

  // An IAM policy's explicit Deny beats the member role.
  await admin.policies.create('no-locked-writes', { Statement: [{ Effect: 'Deny', Action: 's3:PutObject', Resource: 'arn:aws:s3:::photos/locked/*' }] });
  await admin.users.create({ name: 'mia', password: 'mia-password-1', project: 'default', role: 'member' });
  await admin.policies.attach('no-locked-writes', 'mia');
  const mia = new YunClient({ endpoint: tc.cloud.apiUrl, project: 'default' });
  await mia.login('mia', 'mia-password-1');
  const m3 = client(await mia.accessKeys.create());
  await m3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'open/x.txt', Body: 'x' }));
  assert.equal(await s3Error(m3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'locked/x.txt', Body: 'x' }))), 'AccessDenied');

  // Bucket quota from identity.
  await admin.quotas.set('buckets', 1);
  assert.notEqual(await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'second' }))), '');
  // A deleted key stops working at once.
  await admin.accessKeys.delete(key.accessKeyId);
  assert.equal(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'a.txt' }))), 'InvalidAccessKeyId');
});
