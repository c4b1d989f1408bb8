/**
 * Moves WAL checkpoints off the event loop. SQLite's automatic checkpoint
 * runs inside whichever COMMIT crosses the threshold and fsyncs the
 * database there, stalling every request for tens of milliseconds. The
 * store turns it off and asks this worker thread, which holds its own
 * connection, to checkpoint instead: a PASSIVE pass copies committed frames
 * into the database file and fsyncs without taking the write lock, so
 * commits go on meanwhile; a RESTART pass then copies the few frames they
 * appended, holding the write lock briefly (the store's writers meet
 * SQLITE_BUSY and retry asynchronously, reads go on), so the next write
 * starts the WAL over from its beginning.
 * A checkpoint only moves data that is already committed to the WAL, so
 * durability is unchanged.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Checkpoint once the WAL holds this much (SQLite's own default is 1000 pages, ~4 MiB). */
const WAL_BYTES = 4 << 20;
/** How many write commits between looks at the WAL's size. */
const CHECK_EVERY = 32;

// Plain CommonJS so the worker needs no TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  let ok = true;
  try {
    // PASSIVE copies the bulk while commits go on; RESTART then copies what
    // they appended meanwhile and, holding the write lock for only that
    // long, makes the next write start the WAL over.
    db.pragma('wal_checkpoint(PASSIVE)');
    ok = db.pragma('wal_checkpoint(RESTART)')[0].busy === 0;
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
    if (size < WAL_BYTES) return;
    this.#busy = true;
    this.#start().postMessage('checkpoint');
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
