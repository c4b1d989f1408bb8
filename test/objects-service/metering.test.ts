import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { meteringModule } from '../../src/metering/module.ts';
import { objectsModule } from '../../src/objects/module.ts';
import { metering } from '../../src/sdk/metering.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

/** S3 requests, bytes out and stored bytes reach metering through the objects module's hooks. */
let tc: TestCloud;
before(async () => {
  tc = await startTestCloud({
    modules: async (config) => {
      const m = await meteringModule(config);
      return [objectsModule(config, { metering: m }), m];
    },
  });
});
after(async () => { await tc?.stop(); });

test('S3 requests by class and bytes out are metered for the requesting project', async () => {
  const key = await tc.admin.accessKeys.create('s3');
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${tc.cloud.config.s3Port}`, region: 'us-east-1', forcePathStyle: true, credentials: key });
  await s3.send(new CreateBucketCommand({ Bucket: 'metered' }));
  for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: `k${i}`, Body: 'x'.repeat(1000) }));
  for (let i = 0; i < 2; i++) await (await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'k0' }))).Body!.transformToString();
  const api = metering(tc.admin);
  await api.collect();
  const report = await api.usage({ groupBy: 'sku' });
  const text = JSON.stringify(report);
  assert.match(text, /s3\.requests:class-a/, text);
  assert.match(text, /s3\.requests:class-b/, text);
  assert.match(text, /data_out/, text);
});
