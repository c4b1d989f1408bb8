/**
 * A small HTTP/1.1 reverse-proxy engine on plain sockets, shared by the apps
 * router and the L7 load balancer. Node's http server and client cost more
 * per request than the trivial backends they front (two parsers, two
 * message objects, stream plumbing and listener churn per request); here a
 * request is one head parse, one write upstream, one head parse and one
 * write back, with bodies passed through as buffers and only measured.
 *
 * - Upstream connections are pooled per target (UpstreamPool, LIFO, kept
 *   alive while the server's Keep-Alive hint allows) and a request that
 *   finds its reused connection closed under it is resent on a fresh one
 *   when that is safe (idempotent, no body, no answer yet).
 * - The handler decides per request (onRequest): forward to a pool, reply
 *   locally, or wait (scale from zero) and decide later.
 * - Pipelined requests are answered in order; backpressure both ways.
 * - Upgrade requests (WebSocket) get a fresh connection and are spliced.
 * - X-Forwarded-For / -Proto / -Host are set; hop-by-hop headers dropped.
 *
 * What it cannot do: TLS, HTTP/2, trailers on HTTP/1.0 clients.
 */
import { STATUS_CODES } from 'node:http';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { UpConn, UpstreamPool } from './upstream.ts';
import { ChunkedEnd, Framing, MAX_HEAD, type RequestHead, WireError, parseRequestHead, parseResponseHead } from './wire.ts';

export { UpstreamPool };

export interface ProxyError { code: string; message: string }

/**
 * Called when a forwarded request ends. Without `err` the response was
 * delivered (`status` is its status). With `err` and `ex.canRespond` nothing
 * reached the client yet: forward again or reply. With `err` otherwise the
 * client connection is already closed (or gone).
 */
export type ForwardDone = (status: number, err?: ProxyError) => void;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const CRLF2 = Buffer.from('\r\n\r\n');
const COMBINE_MAX = 16 * 1024;
const HEAD_TIMEOUT_MS = 60_000;


/** One request on a client connection. */
export class Exchange {
  readonly method: string;
  readonly url: string;
  /** The Host header as sent ('' without one). */
  readonly host: string;
  /** The value of the Upgrade header when this is an upgrade request ('' otherwise). */
  readonly upgrade: string;
  readonly hasBody: boolean;
  /** The client went away. */
  aborted = false;
  /** Bytes of the forwarded response handed to the client socket (head and body; metering). */
  sent = 0;
  private answered = false;
  private finished = false;
  private head: RequestHead;
  private upHead = '';
  private up: UpConn | null = null;
  private done: ForwardDone | null = null;
  private staleRetried = false;
  // request body toward upstream
  private reqDone: boolean;
  private reqRemain: number;
  private reqChunks?: ChunkedEnd;
  private held: Buffer[] | null = null;
  // response from upstream
  private resBuf: Buffer | null = null;
  private resStatus = 0;
  private resFraming = Framing.None;
  private resRemain = 0;
  private resChunks?: ChunkedEnd;
  private resClose = false;
  private gotBytes = false;

  constructor(private readonly conn: ClientConn, head: RequestHead) {
    this.head = head;
    this.method = head.method;
    this.url = head.url;
    this.host = head.host;
    this.upgrade = head.upgrade;
    this.hasBody = head.framing !== Framing.None;
    this.reqDone = !this.hasBody;
    this.reqRemain = head.length;
    if (head.framing === Framing.Chunked) this.reqChunks = new ChunkedEnd();
  }

  get remoteAddress(): string { return this.conn.remote; }
  /** Nothing was sent to the client yet and it is still there. */
  get canRespond(): boolean { return !this.answered && !this.aborted; }

  /** Sends the request to a connection of `pool`; `done` is called once per forward. */
  forward(pool: UpstreamPool, done: ForwardDone): void {
    if (!this.canRespond) { done(0, { code: 'ECLIENTGONE', message: 'client went away' }); return; }
    if (this.upHead && this.hasBody) { done(0, { code: 'ENORETRY', message: 'the request body was already sent' }); return; }
    this.done = done;
    if (this.upgrade) { this.splice(pool); return; }
    if (!this.upHead) this.upHead = this.requestHead();
    this.send(pool.take());
  }

  private requestHead(): string {
    const h = this.head;
    const remote = this.conn.remote;
    const xff = h.xff ? `${h.xff}, ${remote}` : remote;
    const tail = h.host ? `x-forwarded-host: ${h.host}\r\n` : '';
    return `${h.method} ${h.url} HTTP/1.${h.minor}\r\n${h.kept}${h.minor === 0 ? 'connection: close\r\n' : ''}x-forwarded-for: ${xff}\r\nx-forwarded-proto: http\r\n${tail}`;
  }

  private send(c: UpConn): void {
    this.up = c;
    c.ex = this;
    this.gotBytes = false;
    this.resBuf = null;
    const s = c.sock;
    const held = this.held;
    this.held = null;
    if (!held) { s.write(`${this.upHead}\r\n`, 'latin1'); return; }
    s.cork();
    s.write(`${this.upHead}\r\n`, 'latin1');
    for (const b of held) this.reqData(b);
    s.uncork();
    this.conn.sock.resume();
  }

  /** Answers locally (404, 503, 502 …) with a short text body. */
  reply(status: number, text: string, opts: { close?: boolean; headers?: Record<string, string> } = {}): void {
    if (!this.canRespond) return;
    this.answered = true;
    const up = this.up;
    if (up) { this.up = null; this.done = null; up.ex = null; up.sock.destroy(); }
    const body = this.method === 'HEAD' ? '' : text;
    const close = opts.close || this.head.close || !this.reqDone;
    let h = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\n`;
    for (const [k, v] of Object.entries(opts.headers ?? {})) h += `${k}: ${v}\r\n`;
    if (close) h += 'connection: close\r\n';
    this.conn.sock.write(`${h}\r\n${body}`);
    this.end(close);
  }

  // --- client side -------------------------------------------------------

  /** Client bytes while this exchange is current; returns bytes past this request (or undefined). */
  clientData(b: Buffer): Buffer | undefined {
    if (this.reqDone) return b;
    if (!this.up) {
      (this.held ??= []).push(b);
      if (this.held.length > 16) this.conn.sock.pause();
      return undefined;
    }
    return this.reqData(b);
  }

  /** Forwards the body part of `b` upstream; returns what follows the body. */
  private reqData(b: Buffer): Buffer | undefined {
    if (this.reqDone) { this.conn.pushBack(b); return undefined; }
    let end = b.length;
    if (this.reqChunks) {
      let e: number;
      try { e = this.reqChunks.feed(b, 0); } catch { this.conn.sock.destroy(); return undefined; }
      if (e >= 0) { end = e; this.reqDone = true; }
    } else if (b.length >= this.reqRemain) {
      end = this.reqRemain;
      this.reqRemain = 0;
      this.reqDone = true;
    } else this.reqRemain -= b.length;
    const up = this.up!;
    const part = end === b.length ? b : b.subarray(0, end);
    if (!up.sock.write(part)) this.conn.sock.pause();
    if (end < b.length) this.conn.pushBack(b.subarray(end));
    return undefined;
  }

  upDrain(): void { if (!this.reqDone) this.conn.sock.resume(); }
  clientDrain(): void { this.up?.sock.resume(); }

  clientGone(): void {
    if (this.finished) return;
    this.aborted = true;
    const up = this.up;
    if (up) { this.up = null; up.ex = null; up.sock.destroy(); }
    this.finish(this.resStatus || 499, { code: 'ECLIENTGONE', message: 'client went away' });
  }

  // --- upstream side -----------------------------------------------------

  upData(b: Buffer): void {
    this.gotBytes = true;
    if (this.resStatus === 0) {
      this.resBuf = this.resBuf ? Buffer.concat([this.resBuf, b]) : b;
      this.resHead();
      return;
    }
    this.resBody(b, 0);
  }

  /** Parses response heads (1xx ones are passed on) until a final one. */
  private resHead(): void {
    for (;;) {
      const b = this.resBuf!;
      const i = b.indexOf(CRLF2);
      if (i < 0) {
        if (b.length > MAX_HEAD) this.upFail(this.up!, 'EBADRESPONSE', 'response head too large');
        return;
      }
      let h: ReturnType<typeof parseResponseHead>;
      try { h = parseResponseHead(b.toString('latin1', 0, i), this.method); } catch (e) { this.upFail(this.up!, 'EBADRESPONSE', (e as Error).message); return; }
      if (h.status < 200) {
        if (h.status === 101) { this.upFail(this.up!, 'EBADRESPONSE', 'unexpected 101'); return; }
        this.conn.sock.write(`HTTP/1.1 ${h.status} ${h.reason}\r\n${h.kept}\r\n`, 'latin1');
        this.resBuf = i + 4 < b.length ? b.subarray(i + 4) : null;
        if (!this.resBuf) return;
        continue;
      }
      this.resBuf = null;
      this.answered = true;
      this.resStatus = h.status;
      this.resFraming = h.framing;
      this.resRemain = h.length;
      this.resClose = h.close;
      if (h.keepAliveMs) this.up!.pool.keepAliveMs = Math.max(0, h.keepAliveMs - 1000);
      if (h.framing === Framing.Chunked) this.resChunks ??= new ChunkedEnd();
      const toClientClose = this.head.close || h.framing === Framing.Close || this.head.minor === 0 || !this.reqDone;
      if (toClientClose) this.conn.closeAfter = true;
      const outHead = `HTTP/1.1 ${h.status} ${h.reason}\r\n${h.kept}${toClientClose ? 'connection: close\r\n' : ''}\r\n`;
      this.resBody(b, i + 4, outHead);
      return;
    }
  }

  /** Passes response body bytes b[from..] on; ends the exchange at the body's end. */
  private resBody(b: Buffer, from: number, head?: string): void {
    let end = b.length;
    let complete = false;
    if (this.resFraming === Framing.Length) {
      if (end - from >= this.resRemain) { end = from + this.resRemain; complete = true; this.resRemain = 0; } else this.resRemain -= end - from;
    } else if (this.resFraming === Framing.Chunked) {
      let e: number;
      try { e = this.resChunks!.feed(b, from); } catch (err) { this.upFail(this.up!, 'EBADRESPONSE', (err as Error).message); return; }
      if (e >= 0) { end = e; complete = true; }
    } else if (this.resFraming === Framing.None) { end = from; complete = true; }
    const extra = end < b.length;
    const cs = this.conn.sock;
    this.sent += end - from + (head === undefined ? 0 : head.length);
    let ok: boolean;
    if (head !== undefined) {
      const n = end - from;
      if (n === 0) ok = cs.write(head, 'latin1');
      else if (n <= COMBINE_MAX) {
        const hl = head.length;
        const out = Buffer.allocUnsafe(hl + n);
        out.write(head, 0, 'latin1');
        b.copy(out, hl, from, end);
        ok = cs.write(out);
      } else { cs.cork(); cs.write(head, 'latin1'); ok = cs.write(b.subarray(from, end)); cs.uncork(); }
    } else ok = cs.write(from === 0 && end === b.length ? b : b.subarray(from, end));
    if (!complete) { if (!ok) this.up!.sock.pause(); return; }
    const up = this.up!;
    this.up = null;
    // reuse the connection only when both messages ended cleanly
    if (!extra && !this.resClose && this.reqDone) up.pool.put(up);
    else { up.ex = null; up.sock.destroy(); }
    const status = this.resStatus;
    this.finish(status);
    this.end(!this.reqDone);
  }

  /** The upstream closed its side: the end of a close-delimited body, else a failure. */
  upEnd(c: UpConn): void {
    if (this.up === c && this.answered && this.resFraming === Framing.Close) {
      this.up = null;
      c.ex = null;
      c.sock.destroy();
      this.finish(this.resStatus);
      this.end(true);
      return;
    }
    this.upFail(c, 'ECONNRESET', 'connection closed before the response ended');
  }

  upFail(c: UpConn, code: string, message: string): void {
    if (this.up !== c) return;
    this.up = null;
    c.ex = null;
    c.sock.destroy();
    if (this.answered) {
      this.conn.sock.destroy();
      this.finish(this.resStatus || 502, { code, message });
      return;
    }
    // a reused keep-alive connection closed under a request that is safe to resend
    if (c.reused && !this.gotBytes && !this.hasBody && !this.staleRetried && code !== 'ETIMEDOUT' && IDEMPOTENT.has(this.method)) {
      this.staleRetried = true;
      this.send(new UpConn(c.pool));
      return;
    }
    const done = this.done!;
    this.done = null;
    if (this.hasBody && !this.reqDone) this.conn.closeAfter = true;
    done(0, { code, message });
  }

  private finish(status: number, err?: ProxyError): void {
    const done = this.done;
    this.done = null;
    done?.(status, err);
  }

  /** The exchange is over: the client connection moves to the next request or closes. */
  private end(close: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.conn.next(close);
  }

  // --- upgrade -----------------------------------------------------------

  private splice(pool: UpstreamPool): void {
    const h = this.head;
    const up = connect({ host: pool.host, port: pool.port, noDelay: true });
    const cs = this.conn.sock;
    this.answered = true;
    this.finished = true;
    const rest = this.conn.detach();
    let closed = false;
    let connected = false;
    const close = (e?: NodeJS.ErrnoException) => {
      if (closed) return;
      closed = true;
      up.destroy();
      cs.destroy();
      if (connected) this.finish(101);
      else this.finish(502, { code: e?.code ?? 'ECONNRESET', message: e?.message ?? 'connection closed' });
    };
    up.on('connect', () => {
      connected = true;
      up.write(`${this.requestHead()}connection: Upgrade\r\nupgrade: ${h.upgrade}\r\n\r\n`, 'latin1');
      for (const b of this.held ?? []) up.write(b);
      if (rest) up.write(rest);
      this.held = null;
      up.pipe(cs);
      cs.pipe(up);
      cs.resume();
    });
    up.on('error', close).on('close', () => close());
    cs.on('error', close).on('close', () => close());
  }
}

/** One client connection: parses request heads, one exchange at a time. */
class ClientConn {
  readonly remote: string;
  private buf: Buffer | null = null;
  ex: Exchange | null = null;
  closeAfter = false;
  private ended = false;
  private parsing = false;
  private headSince = 0;
  private readonly onData = (b: Buffer) => this.data(b);

  constructor(readonly sock: Socket, private readonly proxy: H1ProxyOptions) {
    this.remote = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    sock.on('data', this.onData);
    sock.on('drain', () => this.ex?.clientDrain());
    sock.on('timeout', () => { if (!this.ex) sock.destroy(); });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => { const ex = this.ex; this.ex = null; ex?.clientGone(); });
  }

  private data(b: Buffer): void {
    if (this.ended) return;
    if (this.ex) {
      const rest = this.ex.clientData(b);
      if (rest) this.pushBack(rest);
      return;
    }
    this.buf = this.buf ? Buffer.concat([this.buf, b]) : b;
    this.parse();
  }

  /** Bytes past the current request (a pipelined next one). */
  pushBack(b: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, b]) : b;
    if (this.buf.length > MAX_HEAD) this.sock.pause();
  }

  private parse(): void {
    if (this.parsing) return;
    this.parsing = true;
    try { this.parseLoop(); } finally { this.parsing = false; }
  }

  private parseLoop(): void {
    while (!this.ex && this.buf && !this.sock.destroyed) {
      let b = this.buf;
      let s = 0;
      while (s < b.length && (b[s] === 13 || b[s] === 10)) s++;
      if (s) { b = b.subarray(s); this.buf = b.length ? b : null; if (!this.buf) return; }
      const i = b.indexOf(CRLF2);
      if (i < 0) {
        if (b.length > MAX_HEAD) this.fail(431, 'request head too large');
        // a head trickling in (slowloris) gets HEAD_TIMEOUT_MS in all, as Node's headersTimeout
        else if (!this.headSince) this.headSince = Date.now();
        else if (Date.now() - this.headSince > HEAD_TIMEOUT_MS) this.fail(408, 'request head took too long');
        return;
      }
      this.headSince = 0;
      let head: RequestHead;
      try { head = parseRequestHead(b.toString('latin1', 0, i)); } catch (e) {
        this.fail(e instanceof WireError ? e.status : 400, (e as Error).message);
        return;
      }
      this.buf = null;
      const ex = new Exchange(this, head);
      this.ex = ex;
      if (head.close) this.closeAfter = true;
      if (i + 4 < b.length) {
        const rest = ex.clientData(b.subarray(i + 4));
        if (rest) this.pushBack(rest);
      }
      this.proxy.onRequest(ex);
    }
  }

  private fail(status: number, msg: string): void {
    this.ended = true;
    this.sock.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain\r\ncontent-length: ${msg.length + 1}\r\nconnection: close\r\n\r\n${msg}\n`);
    this.buf = null;
  }

  /** Called when the current exchange is over. */
  next(close: boolean): void {
    this.ex = null;
    if (close || this.closeAfter) { this.buf = null; this.ended = true; this.sock.end(); return; }
    if (this.sock.isPaused()) this.sock.resume();
    if (this.buf) this.parse();
  }

  /** Hands the socket over (upgrade): returns unparsed bytes. */
  detach(): Buffer | null {
    this.sock.off('data', this.onData);
    this.sock.setTimeout(0); // an upgraded connection may idle as long as it likes
    this.sock.pause();
    const b = this.buf;
    this.buf = null;
    this.ex = null;
    return b;
  }
}

export interface H1ProxyOptions {
  /** Called for each request; must eventually forward() or reply() (or see `aborted`). */
  onRequest(ex: Exchange): void;
  /** Idle time allowed on a client connection between requests. */
  keepAliveTimeoutMs?: number;
}

/** A listening-ready server; closeAllConnections() drops every client connection. */
export function createH1Proxy(o: H1ProxyOptions): Server & { closeAllConnections(): void } {
  const open = new Set<Socket>();
  const server = createServer({ noDelay: true }, (sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.setTimeout(o.keepAliveTimeoutMs ?? 65_000);
    new ClientConn(sock, o);
  });
  return Object.assign(server, {
    closeAllConnections() {
      for (const s of open) s.destroy();
      open.clear();
    },
  });
}
