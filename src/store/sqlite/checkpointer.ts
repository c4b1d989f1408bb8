/**
 * Moves WAL checkpoints off the event loop. SQLite's automatic checkpoint
 * runs inside whichever COMMIT crosses the threshold and fsyncs the
 * database there, stalling every request for tens of milliseconds. The
 * store turns it off and asks this worker thread, which holds its own
 * connection, to checkpoint instead: PASSIVE passes copy committed frames
 * into the database file and fsync without ever taking the write lock, so
 * commits go on meanwhile; once a pass has caught up with them (any pause
 * in the writes, even a few milliseconds), the store's next write starts
 * the WAL over from its beginning. Only a WAL that still
 * outgrows WAL_HARD_BYTES (writes faster than the copying, for long) gets
 * a RESTART, which holds the write lock while it finishes (the store's
 * writers meet SQLITE_BUSY and retry asynchronously; reads go on).
 * A checkpoint only moves data that is already committed to the WAL, so
 * durability is unchanged.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoint once the WAL holds more than this (SQLite's own default is 1000
 * pages, ~4 MiB). The store sets journal_size_limit to the same figure, so a
 * WAL that started over is cut back to it and the file's size tells how much
 * was written since.
 */
export const WAL_BYTES = 4 << 20;
/** Past this, a checkpoint that waits for the write lock (RESTART) so the WAL cannot grow without bound. */
const WAL_HARD_BYTES = 64 << 20;
/** How many write commits between looks at the WAL's size. */
const CHECK_EVERY = 32;

// Plain CommonJS so the worker needs no TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const nap = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  let ok = false;
  try {
    if (m === 'restart') {
      ok = db.pragma('wal_checkpoint(RESTART)')[0].busy === 0;
    } else {
      // Each pass copies what the commits appended during the one before;
      // done once a pass finds everything copied and nothing new since the
      // last, so the WAL is wholly in the database file when writes pause.
      let prev = -1;
      for (let pass = 0; pass < 100 && !ok; pass++) {
        const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
        if (r.busy !== 0) break;
        ok = r.log === r.checkpointed && r.log === prev;
        prev = r.log;
        if (!ok) Atomics.wait(nap, 0, 0, 2);
      }
    }
  } catch { ok = false; }
  parentPort.postMessage(ok);
});
`;

export class Checkpointer {
  readonly #path: string;
  #worker?: Worker;
  #busy = false;
  #writes = 0;
  #failed = false;
  /** Checkpoints the worker has finished (for tests and diagnostics). */
  completed = 0;

  /** `onFail` is called once if the worker cannot run: the store then turns SQLite's own checkpoints back on. */
  constructor(path: string, private readonly onFail: () => void) {
    this.#path = path;
  }

  /** Called after each write commit; now and then looks at the WAL and starts a checkpoint. */
  wrote(): void {
    if (this.#failed || ++this.#writes % CHECK_EVERY !== 0 || this.#busy) return;
    let size: number;
    try {
      size = statSync(`${this.#path}-wal`).size;
    } catch {
      return;
    }
    if (size <= WAL_BYTES) return;
    this.#busy = true;
    this.#start().postMessage(size > WAL_HARD_BYTES ? 'restart' : 'passive');
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage('close');
    const timer = setTimeout(() => void w.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(WORKER, { eval: true, workerData: { path: this.#path, driver } });
    w.unref();
    w.on('message', (ok: boolean) => {
      this.#busy = false;
      if (ok) this.completed++;
    });
    w.on('error', () => this.#fail());
    w.on('exit', () => {
      if (this.#worker === w) this.#fail();
    });
    this.#worker = w;
    return w;
  }

  #fail(): void {
    this.#worker = undefined;
    if (this.#failed) return;
    this.#failed = true;
    this.onFail();
  }
}
