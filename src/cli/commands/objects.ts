import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { S3Lite } from '../../sdk/s3.ts';
import type { CliEnv } from '../env.ts';

/** `bucket/key`, `s3://bucket/key` or `bucket` → parts. */
export function parseTarget(t: string): { bucket: string; key?: string } {
  const s = t.replace(/^s3:\/\//, '');
  const i = s.indexOf('/');
  if (!s || i === 0) throw new Error(`'${t}' is not BUCKET or BUCKET/KEY`);
  return i < 0 ? { bucket: s } : { bucket: s.slice(0, i), key: s.slice(i + 1) || undefined };
}

/**
 * The S3 client for the current profile. The first use creates an access key
 * for the profile's user and project and keeps it in the 0600 credentials file.
 */
async function s3(env: CliEnv): Promise<S3Lite> {
  const client = await env.client();
  const profiles = env.profiles();
  const p = await profiles.resolve(await env.profileName());
  const region = (await client.regions()).items[0]!;
  const endpoint = process.env.YUN_S3_ENDPOINT ?? p.profile?.s3Endpoint ?? region.endpoints.s3!;
  let { accessKeyId, secretAccessKey } = p.creds;
  if (!accessKeyId || !secretAccessKey) {
    const k = await client.accessKeys.create('yun CLI');
    ({ accessKeyId, secretAccessKey } = k);
    await profiles.save(p.name, { ...(p.profile ?? { endpoint: client.endpoint }) }, { accessKeyId, secretAccessKey }, false);
  }
  return new S3Lite({ endpoint, region: region.name, credentials: { accessKeyId, secretAccessKey } });
}

function bar(total: number, label: string): { tick(n: number): void; stop(): void } {
  if (!process.stderr.isTTY || total < 8 * 1024 * 1024) return { tick() {}, stop() {} };
  const b = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} MiB`, stream: process.stderr }, { format: '', barCompleteChar: '█', barIncompleteChar: '░' });
  const mib = (n: number) => Math.round(n / 2 ** 20);
  let done = 0;
  b.start(mib(total), 0);
  return { tick: (n) => { done += n; b.update(mib(done)); }, stop: () => b.stop() };
}

export function registerObjectCommands(program: Command, env: CliEnv): void {
  const bucket = program.command('bucket').description('S3 buckets (the S3 endpoint, signed with your access key)');
  bucket.command('list').action(async () => env.out(await (await s3(env)).listBuckets(), ['name', 'created']));
  bucket.command('create <name>').action(async (name: string) => { await (await s3(env)).createBucket(name); env.out({ created: name }); });
  bucket.command('delete <name>').action(async (name: string) => { await (await s3(env)).deleteBucket(name); env.out({ deleted: name }); });

  const object = program.command('object').description('S3 objects: put/get with progress and parallel multipart');
  object.command('put <file> <target>').description('upload FILE to BUCKET[/KEY] (KEY defaults to the file name)')
    .option('--content-type <type>')
    .action(async (file: string, target: string, o: { contentType?: string }) => {
      const t = parseTarget(target);
      const key = t.key === undefined ? basename(file) : t.key.endsWith('/') ? t.key + basename(file) : t.key;
      const size = (await stat(file)).size;
      const fh = await open(file, 'r');
      const b = bar(size, `put ${key}`);
      try {
        const etag = await (await s3(env)).putObject(t.bucket, key, size, async (off, len) => {
          const buf = Buffer.alloc(len);
          await fh.read(buf, 0, len, off);
          return buf;
        }, (n) => b.tick(n), o.contentType);
        b.stop();
        env.out({ bucket: t.bucket, key, size, etag });
      } finally {
        b.stop();
        await fh.close();
      }
    });
  object.command('get <target> [file]').description('download BUCKET/KEY to FILE (default: the key\'s base name; - for stdout)')
    .action(async (target: string, file?: string) => {
      const t = parseTarget(target);
      if (!t.key) throw new Error('give BUCKET/KEY');
      const res = await (await s3(env)).getObject(t.bucket, t.key);
      const size = Number(res.headers.get('content-length') ?? 0);
      const out = file === '-' ? process.stdout : createWriteStream(file ?? basename(t.key));
      const b = bar(size, `get ${t.key}`);
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
      body.on('data', (c: Buffer) => b.tick(c.length));
      await pipeline(body, out);
      b.stop();
      if (file !== '-') env.out({ bucket: t.bucket, key: t.key, size, file: file ?? basename(t.key) });
    });
  object.command('list <target>').description('list BUCKET[/PREFIX]; folders by "/" unless --recursive')
    .option('-r, --recursive')
    .action(async (target: string, o: { recursive?: boolean }) => {
      const t = parseTarget(target);
      const r = await (await s3(env)).list(t.bucket, t.key ?? '', o.recursive ? undefined : '/');
      env.out([...r.prefixes.map((p) => ({ key: p, size: '', lastModified: 'DIR' })), ...r.objects], ['key', 'size', 'lastModified']);
    });
  object.command('rm <target>').description('delete BUCKET/KEY').action(async (target: string) => {
    const t = parseTarget(target);
    if (!t.key) throw new Error('give BUCKET/KEY');
    await (await s3(env)).deleteObject(t.bucket, t.key);
    env.out({ deleted: `${t.bucket}/${t.key}` });
  });
}
