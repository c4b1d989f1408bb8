/**
 * MD5 of large bodies on a worker thread. A PUT's MD5 (its ETag) cost as much
 * main-thread CPU as all the rest of the write path together (~460 MiB/s per
 * core here), so big bodies are hashed beside the loop instead of on it.
 * Bytes are copied into 1 MiB batches and transferred (no second copy); at
 * most MAX_INFLIGHT batches wait on the worker before `update` waits, so a
 * slow worker slows the upload instead of growing memory.
 */
import { Worker } from 'node:worker_threads';

const BATCH = 1024 * 1024;
const MAX_INFLIGHT = 8;

const WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) { h = createHash('md5'); hashes.set(m.id, h); }
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ id: m.id, op: 'ack' });
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) ?? createHash('md5');
    hashes.delete(m.id);
    const d = h.digest();
    parentPort.postMessage({ id: m.id, op: 'digest', digest: d.buffer.slice(d.byteOffset, d.byteOffset + d.length) });
  } else hashes.delete(m.id);
});
`;

interface Waiter { acked(): void; digested(d: Buffer): void; failed(e: unknown): void }

let worker: Worker | undefined;
let nextId = 1;
const waiters = new Map<number, Waiter>();

function shared(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER, { eval: true });
  w.on('message', (m: { id: number; op: string; digest?: ArrayBuffer }) => {
    const h = waiters.get(m.id);
    if (m.op === 'ack') h?.acked();
    else if (m.op === 'digest') h?.digested(Buffer.from(m.digest!));
  });
  const fail = (e: unknown) => {
    if (worker === w) worker = undefined;
    for (const h of waiters.values()) h.failed(e);
    waiters.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`md5 worker exited with code ${code}`)));
  worker = w;
  return w;
}

/** What the write path needs of an MD5: an in-thread `Hash` fits too (its sync returns are awaited as-is). */
export interface Md5 { update(chunk: Buffer): Promise<void> | unknown; digest(): Promise<Buffer> | Buffer; abort?(): void }

/** An incremental MD5 computed on the shared worker thread. Call `digest()` or `abort()` exactly once. */
export class WorkerMd5 implements Md5 {
  private readonly id = nextId++;
  private readonly w = shared();
  private batch: Buffer | undefined;
  private fill = 0;
  private inflight = 0;
  private error: unknown;
  private onAck: (() => void) | undefined;
  private onDigest: ((d: Buffer) => void) | undefined;

  constructor() {
    if (waiters.size === 0) this.w.ref(); // held while any hash is open, so an awaited digest keeps the process alive
    waiters.set(this.id, {
      acked: () => { this.inflight--; const f = this.onAck; this.onAck = undefined; f?.(); },
      digested: (d) => this.onDigest?.(d),
      failed: (e) => { this.error = e; const f = this.onAck; this.onAck = undefined; f?.(); this.onDigest?.(Buffer.alloc(0)); },
    });
  }

  async update(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      this.batch ??= Buffer.allocUnsafeSlow(BATCH);
      const n = chunk.copy(this.batch, this.fill, off);
      this.fill += n;
      off += n;
      if (this.fill === BATCH) await this.send();
    }
  }

  async digest(): Promise<Buffer> {
    if (this.fill > 0) await this.send();
    this.check();
    const d = await new Promise<Buffer>((resolve) => {
      this.onDigest = resolve;
      this.w.postMessage({ id: this.id, op: 'digest' });
    });
    this.release();
    this.check();
    return d;
  }

  abort(): void {
    if (!waiters.has(this.id)) return;
    this.release();
    this.w.postMessage({ id: this.id, op: 'drop' });
  }

  private release() {
    waiters.delete(this.id);
    if (waiters.size === 0) this.w.unref();
  }

  private async send() {
    while (this.inflight >= MAX_INFLIGHT && this.error === undefined) await new Promise<void>((r) => { this.onAck = r; });
    this.check();
    const buf = this.batch!.buffer as ArrayBuffer;
    this.w.postMessage({ id: this.id, op: 'update', buf, len: this.fill }, [buf]);
    this.inflight++;
    this.batch = undefined;
    this.fill = 0;
  }

  private check() {
    if (this.error !== undefined) throw this.error;
  }
}
