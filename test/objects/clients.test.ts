/**
 * Compatibility with the real clients people use, unchanged: Debian's awscli
 * (/usr/bin/aws), python3-boto3 (/usr/bin/python3), rclone and s3cmd.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { KEY_A, requireCapability, startServer, type TestServer } from './helpers.ts';

const run = promisify(execFile);
let srv: TestServer;
let work: string;
const md5 = (p: string) => createHash('md5').update(readFileSync(p)).digest('hex');

before(async () => {
  srv = await startServer();
  work = mkdtempSync(join(tmpdir(), 'yun-s3-clients-'));
  mkdirSync(join(work, 'home'));
  mkdirSync(join(work, 'site', 'css'), { recursive: true });
  writeFileSync(join(work, 'site', 'index.html'), '<h1>hi</h1>');
  writeFileSync(join(work, 'site', 'css', 'a b.css'), 'body{}');
  writeFileSync(join(work, 'site', 'ünï.txt'), 'unicode name');
  writeFileSync(join(work, 'big.bin'), randomBytes(21 * 1024 * 1024 + 123));
});
after(async () => { await srv.close(); rmSync(work, { recursive: true, force: true }); });

const baseEnv = () => ({ PATH: '/usr/bin:/bin', HOME: join(work, 'home'), LANG: 'C.UTF-8' });

describe('awscli', () => {
  const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', srv.url, ...args], {
    env: { ...baseEnv(), AWS_ACCESS_KEY_ID: KEY_A.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY_A.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: join(work, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'none') },
    maxBuffer: 16 * 1024 * 1024,
  });
  test('mb, cp (multipart), sync, ls, presign, cp back, rm, rb', async (t) => {
    if (!requireCapability(t, existsSync('/usr/bin/aws'), 'Debian awscli (/usr/bin/aws) not installed')) return;
    await aws('s3', 'mb', 's3://cli-aws');
    await aws('s3', 'cp', join(work, 'big.bin'), 's3://cli-aws/');
    await aws('s3', 'sync', join(work, 'site'), 's3://cli-aws/site');
    const ls = await aws('s3', 'ls', '--recursive', 's3://cli-aws/site/');
    assert.match(ls.stdout, /site\/css\/a b\.css/);
    assert.match(ls.stdout, /site\/ünï\.txt/);
    const again = await aws('s3', 'sync', join(work, 'site'), 's3://cli-aws/site');
    assert.equal(again.stdout.trim(), '', 'second sync uploads nothing');
    const head = await aws('s3api', 'head-object', '--bucket', 'cli-aws', '--key', 'big.bin');
    assert.match(JSON.parse(head.stdout).ETag, /-\d+"$/, 'uploaded with multipart');
    await aws('s3', 'cp', 's3://cli-aws/big.bin', join(work, 'big.aws'));
    assert.equal(md5(join(work, 'big.aws')), md5(join(work, 'big.bin')));
    const pre = (await aws('s3', 'presign', 's3://cli-aws/site/index.html', '--expires-in', '300')).stdout.trim();
    const r = await fetch(pre);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '<h1>hi</h1>');
    await aws('s3', 'rm', '--recursive', 's3://cli-aws/');
    await aws('s3', 'rb', 's3://cli-aws');
  });
});

describe('boto3', () => {
  test('upload_file (multipart), download_file, paginate, presign, copy, delete_objects', async (t) => {
    if (!requireCapability(t, existsSync('/usr/bin/python3'), '/usr/bin/python3 missing')) return;
    const probe = await run('/usr/bin/python3', ['-c', 'import boto3'], { env: baseEnv() }).then(() => true, () => false);
    if (!requireCapability(t, probe, 'python3-boto3 not installed')) return;
    const script = `
import sys, hashlib, urllib.request, boto3
from boto3.s3.transfer import TransferConfig
ep, ak, sk, work = sys.argv[1:5]
s3 = boto3.client('s3', endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name='us-east-1')
s3.create_bucket(Bucket='cli-boto')
cfg = TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024)
s3.upload_file(work + '/big.bin', 'cli-boto', 'big.bin', Config=cfg)
s3.upload_file(work + '/site/index.html', 'cli-boto', 'example.txt')
s3.download_file('cli-boto', 'big.bin', work + '/big.boto', Config=cfg)
for i in range(25):
    s3.put_object(Bucket='cli-boto', Key='many/%02d' % i, Body=b'x')
keys = []
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='cli-boto', Prefix='many/', PaginationConfig={'PageSize': 7}):
    keys += [o['Key'] for o in page.get('Contents', [])]
assert keys == ['many/%02d' % i for i in range(25)], keys
url = s3.generate_presigned_url('get_object', Params={'Bucket': 'cli-boto', 'Key': 'example.txt'}, ExpiresIn=300)
assert urllib.request.urlopen(url).read() == b'<h1>hi</h1>'
s3.copy_object(Bucket='cli-boto', Key='copy.txt', CopySource={'Bucket': 'cli-boto', 'Key': 'example.txt'})
assert s3.get_object(Bucket='cli-boto', Key='copy.txt')['Body'].read() == b'<h1>hi</h1>'
r = s3.delete_objects(Bucket='cli-boto', Delete={'Objects': [{'Key': 'many/%02d' % i} for i in range(25)]})
assert len(r['Deleted']) == 25
try:
    s3.get_object(Bucket='cli-boto', Key='missing')
    raise SystemExit('expected NoSuchKey')
except s3.exceptions.NoSuchKey:
    pass
print('ok')
`;
    const r = await run('/usr/bin/python3', ['-c', script, srv.url, KEY_A.accessKeyId, KEY_A.secretAccessKey, work], { env: baseEnv(), maxBuffer: 16 * 1024 * 1024 });
    assert.equal(r.stdout.trim(), 'ok');
    assert.equal(md5(join(work, 'big.boto')), md5(join(work, 'big.bin')));
  });
});

describe('rclone', () => {
  test('mkdir, sync, check, multipart copyto, cat, purge', async (t) => {
    if (!requireCapability(t, existsSync('/usr/bin/rclone'), 'rclone not installed')) return;
    const env = {
      ...baseEnv(), RCLONE_CONFIG: join(work, 'rclone.conf'), RCLONE_CONFIG_YUN_TYPE: 's3', RCLONE_CONFIG_YUN_PROVIDER: 'Other',
      RCLONE_CONFIG_YUN_ACCESS_KEY_ID: KEY_A.accessKeyId, RCLONE_CONFIG_YUN_SECRET_ACCESS_KEY: KEY_A.secretAccessKey,
      RCLONE_CONFIG_YUN_ENDPOINT: srv.url, RCLONE_CONFIG_YUN_REGION: 'us-east-1',
    };
    writeFileSync(join(work, 'rclone.conf'), '');
    const rc = (...args: string[]) => run('/usr/bin/rclone', args, { env, maxBuffer: 16 * 1024 * 1024 });
    await rc('mkdir', 'yun:cli-rclone');
    await rc('sync', join(work, 'site'), 'yun:cli-rclone/dir');
    await rc('check', join(work, 'site'), 'yun:cli-rclone/dir');
    await rc('copyto', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', join(work, 'big.bin'), 'yun:cli-rclone/big.bin');
    await rc('check', '--download', '--include', 'big.bin', work, 'yun:cli-rclone');
    const cat = await rc('cat', 'yun:cli-rclone/dir/css/a b.css');
    assert.equal(cat.stdout, 'body{}');
    const lsf = await rc('lsf', '-R', 'yun:cli-rclone/dir');
    assert.deepEqual(lsf.stdout.trim().split('\n').sort(), ['css/', 'css/a b.css', 'index.html', 'ünï.txt']);
    await rc('purge', 'yun:cli-rclone');
  });
});

describe('s3cmd', () => {
  test('mb, put (multipart), ls, get, del, rb', async (t) => {
    if (!requireCapability(t, existsSync('/usr/bin/s3cmd'), 's3cmd not installed')) return;
    const cfg = join(work, 's3cfg');
    writeFileSync(cfg, `[default]\naccess_key = ${KEY_A.accessKeyId}\nsecret_key = ${KEY_A.secretAccessKey}\nhost_base = 127.0.0.1:${srv.port}\nhost_bucket = 127.0.0.1:${srv.port}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n`);
    const s3cmd = (...args: string[]) => run('/usr/bin/s3cmd', ['-c', cfg, ...args], { env: baseEnv(), maxBuffer: 16 * 1024 * 1024 });
    await s3cmd('mb', 's3://cli-s3cmd');
    await s3cmd('put', '--multipart-chunk-size-mb=5', join(work, 'big.bin'), 's3://cli-s3cmd/big.bin');
    await s3cmd('put', join(work, 'site', 'index.html'), 's3://cli-s3cmd/index.html');
    const ls = await s3cmd('ls', 's3://cli-s3cmd');
    assert.match(ls.stdout, /s3:\/\/cli-s3cmd\/big\.bin/);
    await s3cmd('get', '--force', 's3://cli-s3cmd/big.bin', join(work, 'big.s3cmd'));
    assert.equal(md5(join(work, 'big.s3cmd')), md5(join(work, 'big.bin')));
    await s3cmd('del', 's3://cli-s3cmd/big.bin', 's3://cli-s3cmd/index.html');
    await s3cmd('rb', 's3://cli-s3cmd');
  });
});
