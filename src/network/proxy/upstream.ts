/**
 * Upstream side of the h1 proxy engine: keep-alive connections to one
 * target, LIFO, dropped once idle longer than the server's Keep-Alive hint
 * (less a second) allows.
 */
import { type Socket, connect } from 'node:net';
import type { Exchange } from './h1.ts';

const NO_KEEPALIVE_HINT_MS = 60_000;

/** Pooled keep-alive connections to one target (host:port). */
export class UpstreamPool {
  /** @internal */ readonly idle: UpConn[] = [];
  /** @internal */ keepAliveMs = NO_KEEPALIVE_HINT_MS;
  private closed = false;

  constructor(readonly host: string, readonly port: number, readonly timeoutMs = 60_000, readonly maxIdle = 64) {}

  /** @internal */ take(): UpConn {
    const now = Date.now();
    while (this.idle.length) {
      const c = this.idle.pop()!;
      if (!c.sock.destroyed && now - c.idleSince < this.keepAliveMs) return c;
      c.sock.destroy();
    }
    return new UpConn(this);
  }

  /** @internal */ put(c: UpConn): void {
    c.ex = null;
    if (this.closed || this.idle.length >= this.maxIdle) { c.sock.destroy(); return; }
    c.reused = true;
    c.idleSince = Date.now();
    this.idle.push(c);
  }

  /** @internal */ forget(c: UpConn): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes the idle connections; connections in use close when their request ends. */
  close(): void {
    this.closed = true;
    for (const c of this.idle) c.sock.destroy();
    this.idle.length = 0;
  }
}

/** @internal One upstream connection; its listeners are set once and dispatch to the current exchange. */
export class UpConn {
  readonly sock: Socket;
  ex: Exchange | null = null;
  reused = false;
  idleSince = 0;

  constructor(readonly pool: UpstreamPool) {
    const s = connect({ host: pool.host, port: pool.port, noDelay: true });
    this.sock = s;
    s.setTimeout(pool.timeoutMs);
    s.on('data', (b: Buffer) => { if (this.ex) this.ex.upData(b); else s.destroy(); });
    s.on('drain', () => this.ex?.upDrain());
    s.on('timeout', () => { if (this.ex) this.ex.upFail(this, 'ETIMEDOUT', 'timed out'); else s.destroy(); });
    s.on('error', (e: NodeJS.ErrnoException) => this.ex?.upFail(this, e.code ?? 'ECONNRESET', e.message));
    s.on('end', () => { if (this.ex) this.ex.upEnd(this); else s.destroy(); });
    s.on('close', () => { if (this.ex) this.ex.upFail(this, 'ECONNRESET', 'connection closed'); else pool.forget(this); });
  }
}
