import { createConnection, type Socket } from 'node:net';
import { YunError } from '../../../core/errors.ts';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: unknown;
}

/**
 * A QMP connection over QEMU's unix socket. QEMU serves one QMP client at a
 * time on a socket, so the driver opens a connection per operation and closes
 * it; that also makes adoption after a control-plane restart trivial.
 */
export class QmpClient {
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private events: QmpEvent[] = [];
  private eventWaiters: Array<{ match: (e: QmpEvent) => boolean; resolve: (e: QmpEvent) => void }> = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {}

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const sock = createConnection(path);
    const client = new QmpClient(sock);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { sock.destroy(); reject(new YunError('DriverFailed', `QMP connect to ${path} timed out`)); }, timeoutMs);
      sock.once('error', (e) => { clearTimeout(timer); reject(new YunError('DriverFailed', `QMP connect to ${path}: ${e.message}`, { cause: e })); });
      client.onGreeting = () => { clearTimeout(timer); resolve(); };
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => client.onData(d));
    sock.on('close', () => client.onClose());
    sock.on('error', () => {});
    await greeting;
    await client.execute('qmp_capabilities');
    return client;
  }

  private onGreeting: (() => void) | undefined;

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try { msg = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
      if ('QMP' in msg) { this.onGreeting?.(); this.onGreeting = undefined; continue; }
      if ('event' in msg) { this.onEvent(msg as unknown as QmpEvent); continue; }
      const id = String(msg.id ?? '');
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      if ('error' in msg) {
        const err = msg.error as { class?: string; desc?: string };
        p.reject(new YunError('DriverFailed', `QMP: ${err.desc ?? 'error'}`, { details: { qmpClass: err.class } }));
      } else p.resolve(msg.return);
    }
  }

  private onEvent(e: QmpEvent): void {
    const i = this.eventWaiters.findIndex((w) => w.match(e));
    const waiter = i >= 0 ? this.eventWaiters.splice(i, 1)[0] : undefined;
    if (waiter) waiter.resolve(e);
    else this.events.push(e);
  }

  private onClose(): void {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new YunError('DriverFailed', 'QMP connection closed'));
    this.pending.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs a QMP command and returns its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new YunError('DriverFailed', 'QMP connection closed'));
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new YunError('DriverFailed', `QMP ${command} timed out`)); }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** Resolves with the first event (already received or future) that matches; rejects on timeout. */
  waitEvent(match: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    const i = this.events.findIndex(match);
    const seen = i >= 0 ? this.events.splice(i, 1)[0] : undefined;
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (e: QmpEvent) => { clearTimeout(timer); resolve(e); } };
      const timer = setTimeout(() => {
        this.eventWaiters = this.eventWaiters.filter((x) => x !== w);
        reject(new YunError('DriverFailed', 'timed out waiting for a QMP event'));
      }, timeoutMs);
      this.eventWaiters.push(w);
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

/** Opens a QMP connection, runs `fn`, and always closes it. */
export async function withQmp<T>(path: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
  const q = await QmpClient.connect(path);
  try {
    return await fn(q);
  } finally {
    q.close();
  }
}
