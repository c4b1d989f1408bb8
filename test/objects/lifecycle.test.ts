/** The lifecycle controller really expires current and noncurrent versions and aborts stale uploads. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KEY_A, startServer } from './helpers.ts';
import { signed } from './raw.ts';

const A = { accessKeyId: KEY_A.accessKeyId, secretAccessKey: KEY_A.secretAccessKey };

test('lifecycle rules expire objects, noncurrent versions and multipart uploads', async () => {
  // One lifecycle "day" is 200 ms here; the controller runs every 100 ms.
  const srv = await startServer({ lifecycleDayMs: 200, lifecycleIntervalMs: 100 });
  try {
    const u = (p: string) => `${srv.url}${p}`;
    await signed(A, 'PUT', u('/life')).send();
    await signed(A, 'PUT', u('/life?versioning'), { body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' }).send();
    const rules = `<LifecycleConfiguration>
      <Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>
        <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>
        <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
      <Rule><ID>off</ID><Filter><Prefix>keep/</Prefix></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>
    </LifecycleConfiguration>`;
    const put = await signed(A, 'PUT', u('/life?lifecycle'), { body: rules }).send();
    assert.equal(put.status, 200, put.text);
    const got = await signed(A, 'GET', u('/life?lifecycle')).send();
    assert.match(got.text, /<ID>tmp<\/ID><Filter><Prefix>tmp\/<\/Prefix><\/Filter><Status>Enabled<\/Status><Expiration><Days>1<\/Days><\/Expiration>/);
    await signed(A, 'PUT', u('/life/tmp/a'), { body: 'v1' }).send();
    await signed(A, 'PUT', u('/life/tmp/a'), { body: 'v2' }).send();
    await signed(A, 'PUT', u('/life/keep/b'), { body: 'stay' }).send();
    await signed(A, 'POST', u('/life/tmp/upload?uploads')).send();
    srv.svc.startControllers();
    await new Promise((r) => setTimeout(r, 1500));
    srv.svc.stopControllers();
    assert.equal((await signed(A, 'GET', u('/life/tmp/a')).send()).status, 404, 'current version expired (delete marker)');
    assert.equal((await signed(A, 'GET', u('/life/keep/b')).send()).status, 200, 'disabled rule does nothing');
    const versions = await signed(A, 'GET', u('/life?versions&prefix=tmp/')).send();
    assert.doesNotMatch(versions.text, /<Version>/, 'noncurrent versions removed');
    const uploads = await signed(A, 'GET', u('/life?uploads')).send();
    assert.doesNotMatch(uploads.text, /<Upload>/, 'stale multipart upload aborted');
  } finally {
    await srv.close();
  }
});
