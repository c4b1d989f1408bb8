/**
 * Local-disk object backend. Layout under `root`:
 *   tmp/<id>            blobs being written (removed at start)
 *   blobs/<gggg>/<id>   committed blobs; <gggg> (the id's first 4 chars) is a
 *                       "generation" directory that takes ~10k blobs
 *                       before the writer moves on to a fresh one
 * A write goes to tmp/, is fsynced, renamed into blobs/ and the shard
 * directory fsynced. Concurrent writes land in the same generation directory
 * so their directory fsyncs coalesce into one.
 * Cannot: share blobs between objects (no dedup), or span filesystems.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomToken } from '../../core/ids.ts';
import type { BackendCapabilities, BlobReader, BlobWriter, ObjectBackend } from './types.ts';

const ID_RE = /^[0-9a-v]{26}$/;
const WRITE_BATCH = 1024 * 1024;
const SYNC_EVERY = 32 * 1024 * 1024;

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
    return join(blobDir, id.slice(0, 4), id);
  };
  const GEN_SIZE = 10_000;
  let gen: { name: string; used: number; ready: Promise<void> } | undefined;
  const currentGen = () => {
    if (!gen || gen.used >= GEN_SIZE) {
      const name = randomToken(4);
      const ready = (async () => {
        await fsp.mkdir(join(blobDir, name), { recursive: true });
        if (doSync) await syncer(blobDir).sync();
      })();
      gen = { name, used: 0, ready };
    }
    gen.used++;
    return gen;
  };

  const capabilities: BackendCapabilities = { durable: doSync, kind: 'local' };

  return {
    capabilities,
    async init() {
      await fsp.mkdir(tmpDir, { recursive: true });
      await fsp.mkdir(blobDir, { recursive: true });
      let removed = 0;
      for (const f of await fsp.readdir(tmpDir)) { await fsp.rm(join(tmpDir, f), { force: true }); removed++; }
      return { removedTemp: removed };
    },

    async create(): Promise<BlobWriter> {
      const g = currentGen();
      await g.ready;
      const id = g.name + randomToken(22);
      const tmp = join(tmpDir, id);
      const fh: FileHandle = await fsp.open(tmp, 'wx', 0o600);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let closed = false;
      // One write in flight while the next batch fills (overlaps network
      // receive with disk writes), and a background datasync every
      // SYNC_EVERY bytes so the final one has little left to flush.
      let inflight: Promise<unknown> | undefined;
      let syncing: Promise<unknown> | undefined;
      let sinceSync = 0;
      let syncBusy = false;
      const startFlush = async () => {
        if (inflight) await inflight;
        inflight = undefined;
        if (pendingBytes === 0) return;
        const bufs = pending;
        const n = pendingBytes;
        pending = [];
        pendingBytes = 0;
        // A short write on a regular file means the filesystem is full.
        inflight = fh.writev(bufs).then((r) => { if (r.bytesWritten !== n) throw Object.assign(new Error('short write'), { code: 'ENOSPC' }); });
        inflight.catch(() => undefined); // surfaced by the next await, never unhandled
        sinceSync += n;
        if (doSync && sinceSync >= SYNC_EVERY && !syncBusy) {
          // Never wait for it here: a write-back in progress just skips this round.
          sinceSync = 0;
          syncBusy = true;
          const prev = syncing;
          syncing = inflight.then(() => prev).then(() => fh.datasync()).finally(() => { syncBusy = false; });
          syncing.catch(() => undefined);
        }
      };
      return {
        id,
        async write(chunk) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BATCH) await startFlush();
        },
        async commit() {
          await startFlush();
          if (inflight) await inflight;
          if (syncing) await syncing;
          if (doSync) await fh.datasync();
          closed = true;
          await fh.close();
          const dest = pathOf(id);
          await fsp.rename(tmp, dest);
          if (doSync) await syncer(join(blobDir, id.slice(0, 4))).sync();
        },
        async abort() {
          await Promise.allSettled([inflight, syncing]);
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
