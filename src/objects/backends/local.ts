/**
 * Local-disk object backend. Layout under `root`:
 *   tmp/<id>            blobs being written (removed at start)
 *   blobs/<aa>/<id>     committed blobs, sharded by the first two id chars
 * A write goes to tmp/, is fsynced, renamed into blobs/ and the shard
 * directory fsynced. Directory fsyncs of concurrent commits are coalesced.
 * Cannot: share blobs between objects (no dedup), or span filesystems.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomToken } from '../../core/ids.ts';
import type { BackendCapabilities, BlobReader, BlobWriter, ObjectBackend } from './types.ts';

const ID_RE = /^[0-9a-v]{26}$/;
const WRITE_BATCH = 1024 * 1024;

/** Coalesces fsyncs of one directory: callers arriving during a sync share the next one. */
class DirSyncer {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  constructor(private readonly dir: string) {}
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) { this.running = this.doSync().finally(() => { this.running = undefined; }); return this.running; }
    this.queued = this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      this.running = this.doSync().finally(() => { this.running = undefined; });
      return this.running;
    });
    return this.queued;
  }
  private async doSync() {
    const fh = await fsp.open(this.dir, constants.O_RDONLY);
    try { await fh.sync(); } finally { await fh.close(); }
  }
}

export function createLocalBackend(opts: { root: string; fsync?: boolean }): ObjectBackend {
  const tmpDir = join(opts.root, 'tmp');
  const blobDir = join(opts.root, 'blobs');
  const doSync = opts.fsync !== false;
  const syncers = new Map<string, DirSyncer>();
  const syncer = (dir: string) => { let s = syncers.get(dir); if (!s) { s = new DirSyncer(dir); syncers.set(dir, s); } return s; };
  const pathOf = (id: string) => {
    if (!ID_RE.test(id)) throw new Error(`invalid blob id ${id}`);
    return join(blobDir, id.slice(0, 2), id);
  };

  const capabilities: BackendCapabilities = { durable: doSync, kind: 'local' };

  return {
    capabilities,
    async init() {
      await fsp.mkdir(tmpDir, { recursive: true });
      await fsp.mkdir(blobDir, { recursive: true });
      let removed = 0;
      for (const f of await fsp.readdir(tmpDir)) { await fsp.rm(join(tmpDir, f), { force: true }); removed++; }
      const shards = new Set(await fsp.readdir(blobDir));
      const alphabet = '0123456789abcdefghijklmnopqrstuv';
      for (const a of alphabet) for (const b of alphabet) if (!shards.has(a + b)) await fsp.mkdir(join(blobDir, a + b));
      return { removedTemp: removed };
    },

    async create(): Promise<BlobWriter> {
      const id = randomToken(26);
      const tmp = join(tmpDir, id);
      const fh: FileHandle = await fsp.open(tmp, 'wx', 0o600);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let closed = false;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const bufs = pending;
        pending = [];
        pendingBytes = 0;
        await fh.writev(bufs);
      };
      return {
        id,
        async write(chunk) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BATCH) await flush();
        },
        async commit() {
          await flush();
          if (doSync) await fh.datasync();
          closed = true;
          await fh.close();
          const dest = pathOf(id);
          await fsp.rename(tmp, dest);
          if (doSync) await syncer(join(blobDir, id.slice(0, 2))).sync();
        },
        async abort() {
          if (!closed) { closed = true; await fh.close().catch(() => undefined); }
          await fsp.rm(tmp, { force: true }).catch(() => undefined);
          await fsp.rm(pathOf(id), { force: true }).catch(() => undefined);
        },
      };
    },

    async open(id) {
      const fh = await fsp.open(pathOf(id), 'r');
      const st = await fh.stat();
      return {
        size: st.size,
        async read(position, length) {
          const buf = Buffer.allocUnsafe(length);
          let off = 0;
          while (off < length) {
            const { bytesRead } = await fh.read(buf, off, length - off, position + off);
            if (bytesRead === 0) break;
            off += bytesRead;
          }
          return off === length ? buf : buf.subarray(0, off);
        },
        close: () => fh.close(),
      };
    },

    async delete(id) {
      await fsp.rm(pathOf(id), { force: true });
    },

    async *list() {
      for (const shard of await fsp.readdir(blobDir)) {
        let names: string[];
        try { names = await fsp.readdir(join(blobDir, shard)); } catch { continue; }
        for (const n of names) {
          if (!ID_RE.test(n)) continue;
          try { const st = await fsp.stat(join(blobDir, shard, n)); yield { id: n, mtimeMs: st.mtimeMs }; } catch { /* deleted meanwhile */ }
        }
      }
    },
  };
}
