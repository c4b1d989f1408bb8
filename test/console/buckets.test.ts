/**
 * The bucket browser end to end: a real S3 server over the cloud's access
 * keys, the console signing SigV4 in chromium and talking through the API
 * server's `/s3/` tunnel. Create a bucket, upload (single PUT and
 * multipart), browse a folder, download, share a presigned link, delete.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { buildConsole, launchChromium, screenshotDir } from './browser.ts';
import { objectsModule } from '../../src/objects/module.ts';

describe('web console: buckets', () => {
  let tc: TestCloud;
  let s3: S3Client;
  before(async () => {
    await buildConsole();
    tc = await startTestCloud({ modules: (config) => [objectsModule(config)] });
    const key = await tc.admin.accessKeys.create('sdk in test');
    s3 = new S3Client({ endpoint: `http://127.0.0.1:${tc.cloud.config.s3Port}`, region: tc.cloud.config.region, forcePathStyle: true, credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } });
  });
  after(async () => { s3?.destroy(); await tc?.stop(); });

  test('the /s3/ tunnel passes the S3 server answers through unchanged', async () => {
    const anon = await fetch(`${tc.cloud.apiUrl}/s3/`);
    assert.equal(anon.status, 403);
    assert.match(await anon.text(), /<Code>AccessDenied<\/Code>/);
  });

  test('create a bucket, upload, browse, download, share, delete', async (t) => {
    const b = await launchChromium(t);
    if (!b) return;
    t.after(() => b.close());
    const ctx = await b.context();
    const page = await ctx.newPage();
    page.on('dialog', (d) => void d.accept());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${tc.cloud.apiUrl}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(tc.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Buckets' }).click();

    await page.getByLabel('Bucket name').fill('photos');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.getByRole('link', { name: 'photos' }).click();
    assert.equal(new URL(page.url()).pathname, '/buckets/photos');

    // Upload: one small file (single PUT) and one 20 MiB file (multipart, 3 parts).
    const small = Buffer.from('hello from the console\n');
    const big = Buffer.alloc(20 * 2 ** 20, 7);
    big.write('start', 0);
    big.write('end', big.length - 3);
    await page.getByLabel('Upload files').setInputFiles([
      { name: 'hello.txt', mimeType: 'text/plain', buffer: small },
      { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
    ]);
    await page.locator('[data-upload="big.bin"]').getByText('done').waitFor({ timeout: 60_000 });
    await page.locator('[data-upload="hello.txt"]').getByText('done').waitFor();
    await page.locator('tr[data-row="big.bin"]').waitFor();
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'big.bin' }));
    assert.equal(head.ContentLength, big.length);
    assert.match(head.ETag ?? '', /-3"$/, 'uploaded as 3 parts');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'hello.txt' }));
    assert.equal(await got.Body!.transformToString(), small.toString());

    // Folders by delimiter: an object put by another client under 2024/trip/.
    await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: '2024/trip/beach.txt', Body: 'sand' }));
    await page.reload();
    await page.getByRole('link', { name: /2024\// }).click();
    await page.getByRole('link', { name: /trip\// }).click();
    assert.equal(new URL(page.url()).pathname, '/buckets/photos/2024/trip');
    await page.locator('tr[data-row="2024/trip/beach.txt"]').waitFor();
    await page.screenshot({ path: join(await screenshotDir(), '18-bucket-folder.png'), fullPage: true });

    // Download through the browser.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('tr[data-row="2024/trip/beach.txt"]').getByRole('button', { name: 'Download' }).click()]);
    assert.equal(download.suggestedFilename(), 'beach.txt');
    assert.equal(await readFile((await download.path())!, 'utf8'), 'sand');

    // A presigned link straight to the S3 endpoint, usable by anyone.
    await page.locator('tr[data-row="2024/trip/beach.txt"]').getByRole('button', { name: 'Share link' }).click();
    const url = (await page.getByTestId('share-url').textContent())!;
    assert.ok(url.startsWith(`http://127.0.0.1:${tc.cloud.config.s3Port}/photos/2024/trip/beach.txt?`), url);
    assert.equal(await (await fetch(url)).text(), 'sand');

    // Delete, back at the bucket root.
    await page.getByRole('link', { name: 'photos' }).click();
    await page.locator('tr[data-row="hello.txt"]').getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-row="hello.txt"]').waitFor({ state: 'detached' });
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'hello.txt' })));
    await page.screenshot({ path: join(await screenshotDir(), '19-bucket.png'), fullPage: true });

    // Logging out deletes the console's own access key (only the test's remains).
    const before = (await tc.admin.accessKeys.list()).items.length;
    assert.equal(before, 2);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    for (let i = 0; i < 50 && (await tc.admin.accessKeys.list()).items.length !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await tc.admin.accessKeys.list()).items.length, 1);
    assert.deepEqual(errors, []);
  });
});
