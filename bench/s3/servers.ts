/**
 * Benchmark server processes: `yun` (the objects service, durable defaults,
 * SQLite file store), `yun-nofsync` (same without blob fsyncs, to show what
 * durability costs), `floor` (bare node:http + fs streaming the same bytes
 * to and from disk with the least work that makes an acknowledged PUT
 * survive a crash — temp file, fdatasync, rename, directory fsync — and no
 * auth, hashing or metadata) and `s3rver` (npm).
 * argv: kind dir. Prints `READY <port>`.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, mkdirSync, promises as fsp } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openStore } from '../../src/store/index.ts';
import { createObjectService, createStaticIdentity } from '../../src/objects/index.ts';
import { BENCH_KEY } from './client.ts';

const [kind, dir] = [process.argv[2], process.argv[3]!];
mkdirSync(dir, { recursive: true });

/** Durable write: the body into a temp file, fdatasync, rename over the name, fsync the directory. */
async function durablePut(req: NodeJS.ReadableStream, path: string, tmp: string): Promise<void> {
  await pipeline(req, createWriteStream(tmp));
  const fh = await fsp.open(tmp, 'r+'); // fdatasync flushes the file's pages whichever descriptor asks
  try { await fh.datasync(); } finally { await fh.close(); }
  await fsp.rename(tmp, path);
  const d = await fsp.open(dir, constants.O_RDONLY);
  try { await d.sync(); } finally { await d.close(); }
}

async function floor(): Promise<number> {
  let seq = 0;
  const server = createServer((req, res) => {
    const path = join(dir, createHash('sha1').update(req.url ?? '').digest('hex'));
    if (req.method === 'PUT') {
      durablePut(req, path, `${path}.${seq++}.tmp`).then(() => { res.writeHead(200, { 'content-length': 0 }); res.end(); }, () => { res.writeHead(500); res.end(); });
    } else if (req.method === 'GET') {
      fsp.stat(path).then((st) => {
        res.writeHead(200, { 'content-length': st.size });
        pipeline(createReadStream(path), res).catch(() => res.destroy());
      }, () => { res.writeHead(404, { 'content-length': 0 }); res.end(); });
    } else { res.writeHead(200, { 'content-length': 0 }); res.end(); }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function yun(fsync = true): Promise<number> {
  const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
  const svc = createObjectService({
    store, dataDir: join(dir, 'objects'), region: 'us-east-1', masterKeyPath: join(dir, 'master.key'),
    identity: createStaticIdentity([{ ...BENCH_KEY, userId: 'bench', projectId: 'prj-bench' }]), fsync,
  });
  const server = await svc.start(0, '127.0.0.1');
  return (server.address() as AddressInfo).port;
}

async function s3rver(): Promise<number> {
  const { default: S3rver } = await import('s3rver' as string) as { default: new (o: object) => { run(): Promise<AddressInfo> } };
  const addr = await new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true }).run();
  return addr.port;
}

const port = kind === 'floor' ? await floor() : kind === 'yun' ? await yun() : kind === 'yun-nofsync' ? await yun(false) : await s3rver();
process.stdout.write(`READY ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
