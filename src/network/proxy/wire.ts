/**
 * HTTP/1.1 message heads and body framing for the proxy engine (h1.ts):
 * just enough parsing to route a request, rewrite hop-by-hop headers and
 * find where each message ends. Bodies are never decoded, only measured.
 *
 * Strict where smuggling lives (RFC 9112 §6.3): Content-Length must be
 * digits and agree with itself, a request with both Transfer-Encoding and
 * Content-Length is refused, obs-fold and bare CR/LF in heads are refused.
 */

export const MAX_HEAD = 64 * 1024;

/** Headers a proxy must not forward (RFC 9110 §7.6.1) plus the ones it sets itself. */
const REQUEST_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const RESPONSE_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

export class WireError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** No body, Content-Length bytes, chunked, or (responses only) until the connection closes. */
export enum Framing { None = 0, Length = 1, Chunked = 2, Close = 3 }

interface Common {
  /** Header lines kept for forwarding, each ending in CRLF. */
  kept: string;
  framing: Framing;
  length: number;
  /** Connection: close (or HTTP/1.0 without keep-alive). */
  close: boolean;
  minor: number;
}

export interface RequestHead extends Common {
  method: string;
  url: string;
  host: string;
  xff: string;
  upgrade: string;
}

export interface ResponseHead extends Common {
  status: number;
  reason: string;
  /** Keep-Alive: timeout=N of the server, in ms (0 when absent). */
  keepAliveMs: number;
}

function framingOf(te: string, cl: string, isRequest: boolean): { framing: Framing; length: number } {
  if (te) {
    if (cl && isRequest) throw new WireError(400, 'both Transfer-Encoding and Content-Length');
    if (/(?:^|,)\s*chunked\s*$/i.test(te)) return { framing: Framing.Chunked, length: 0 };
    if (isRequest) throw new WireError(400, 'Transfer-Encoding without chunked last');
    return { framing: Framing.Close, length: 0 };
  }
  if (cl) {
    if (cl.length < 16 && /^\d+$/.test(cl)) {
      const length = Number(cl);
      return { framing: length ? Framing.Length : Framing.None, length };
    }
    const parts = cl.split(',');
    const n = parts[0]!.trim();
    if (!/^\d{1,15}$/.test(n) || parts.some((p) => p.trim() !== n)) throw new WireError(isRequest ? 400 : 502, 'bad Content-Length');
    const length = Number(n);
    return { framing: length ? Framing.Length : Framing.None, length };
  }
  return { framing: isRequest ? Framing.None : Framing.Close, length: 0 };
}

/** A header name character (RFC 9110 token). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
const SIMPLE_CONNECTION = new Set(['keep-alive', 'close', 'upgrade']);
/** First letters (lower-cased) of the header names anyone looks at. */
const INTERESTING = new Uint8Array(128);
for (const c of 'chkptux') INTERESTING[c.charCodeAt(0)] = 1;

/**
 * Walks the header lines of `head` from `from` (the head has no final CRLF):
 * keeps those not in `drop` (nor named by Connection), and hands the
 * interesting ones to `see` (lower-case name, value). Kept lines are cut
 * from the head in runs, each ending in CRLF.
 */
function walk(head: string, from: number, drop: Set<string>, see: (name: string, value: string) => void, status: number): string {
  let kept = '';
  let run = from;
  let listed: string[] | undefined;
  const n = head.length;
  for (let i = from; i < n;) {
    let e = head.indexOf('\r\n', i);
    if (e < 0) e = n;
    const colon = head.indexOf(':', i);
    if (colon <= i || colon > e) throw new WireError(status, 'malformed header line');
    const lf = head.indexOf('\n', i);
    const cr = head.indexOf('\r', i);
    if ((lf >= 0 && lf <= e) || (cr >= 0 && cr < e)) throw new WireError(status, 'malformed header line');
    for (let k = i; k < colon; k++) { const c = head.charCodeAt(k); if (c > 127 || !TCHAR[c]) throw new WireError(status, 'malformed header name'); }
    if (INTERESTING[head.charCodeAt(i) | 32]) {
      const name = head.slice(i, colon).toLowerCase();
      const value = head.slice(colon + 1, e).trim();
      see(name, value);
      if (name === 'connection' && !SIMPLE_CONNECTION.has(value.toLowerCase())) for (const t of value.toLowerCase().split(',')) { const x = t.trim(); if (x && x !== 'close' && x !== 'keep-alive' && x !== 'upgrade') (listed ??= []).push(x); }
      if (drop.has(name)) { kept += head.slice(run, i); run = e + 2; }
    }
    i = e + 2;
  }
  if (run < n) kept += `${head.slice(run)}\r\n`;
  if (listed) {
    // rare: drop the headers the sender named in Connection
    kept = '';
    for (const line of head.slice(from).split('\r\n')) {
      const name = line.slice(0, line.indexOf(':')).toLowerCase();
      if (!drop.has(name) && !listed.includes(name)) kept += `${line}\r\n`;
    }
  }
  return kept;
}

/** The first line of a head and where its header lines start. */
function firstLine(head: string): [string, number] {
  const e = head.indexOf('\r\n');
  return e < 0 ? [head, head.length] : [head.slice(0, e), e + 2];
}

let lastKeepAlive = '';
let lastKeepAliveMs = 0;

/** Parses a request head (without the final CRLFCRLF). Throws WireError(400). */
export function parseRequestHead(head: string): RequestHead {
  const [line, from] = firstLine(head);
  const m = REQUEST_LINE.exec(line);
  if (!m) throw new WireError(400, 'malformed request line');
  let host = '';
  let hosts = 0;
  let te = '';
  let cl = '';
  let conn = '';
  let xff = '';
  let upgrade = '';
  const kept = walk(head, from, REQUEST_DROP, (name, value) => {
    switch (name) {
      case 'host': host = value; hosts++; break;
      case 'transfer-encoding': te = te ? `${te}, ${value}` : value; break;
      case 'content-length': cl = cl ? `${cl},${value}` : value; break;
      case 'connection': conn = conn ? `${conn},${value}` : value; break;
      case 'x-forwarded-for': xff = xff ? `${xff}, ${value}` : value; break;
      case 'upgrade': upgrade = value; break;
    }
  }, 400);
  if (hosts > 1) throw new WireError(400, 'more than one Host header');
  const minor = m[3] === '1' ? 1 : 0;
  const { framing, length } = framingOf(te, cl, true);
  const c = conn.toLowerCase();
  return {
    method: m[1]!, url: m[2]!, host, xff, kept, framing, length, minor,
    close: minor === 0 ? !/\bkeep-alive\b/.test(c) : /\bclose\b/.test(c),
    upgrade: upgrade && /\bupgrade\b/.test(c) ? upgrade : '',
  };
}

/** Parses a response head. Throws WireError(502). */
export function parseResponseHead(head: string, method: string): ResponseHead {
  const [line, from] = firstLine(head);
  const m = STATUS_LINE.exec(line);
  if (!m) throw new WireError(502, 'malformed status line');
  let te = '';
  let cl = '';
  let conn = '';
  let ka = '';
  const kept = walk(head, from, RESPONSE_DROP, (name, value) => {
    switch (name) {
      case 'transfer-encoding': te = te ? `${te}, ${value}` : value; break;
      case 'content-length': cl = cl ? `${cl},${value}` : value; break;
      case 'connection': conn = conn ? `${conn},${value}` : value; break;
      case 'keep-alive': ka = value; break;
    }
  }, 502);
  const status = Number(m[2]);
  const minor = m[1] === '1' ? 1 : 0;
  const bodyless = method === 'HEAD' || status < 200 || status === 204 || status === 304;
  const f = bodyless ? { framing: Framing.None, length: 0 } : framingOf(te, cl, false);
  const c = conn.toLowerCase();
  if (ka && ka !== lastKeepAlive) {
    const t = /timeout=(\d+)/i.exec(ka);
    lastKeepAlive = ka;
    lastKeepAliveMs = t ? Number(t[1]) * 1000 : 0;
  }
  return {
    status, reason: m[3] ?? '', kept, framing: f.framing, length: f.length, minor,
    close: f.framing === Framing.Close || (minor === 0 ? !/\bkeep-alive\b/.test(c) : /\bclose\b/.test(c)),
    keepAliveMs: ka ? lastKeepAliveMs : 0,
  };
}

/**
 * Finds the end of a chunked body across buffers without copying it:
 * `feed` returns the offset just past the last CRLF of the trailers, or -1.
 */
export class ChunkedEnd {
  private state = 0;
  private size = 0;
  private digits = 0;
  private remain = 0;
  private lineLen = 0;

  feed(b: Buffer, from: number): number {
    let i = from;
    const n = b.length;
    while (i < n) {
      switch (this.state) {
        case 0: { // chunk-size line
          const c = b[i++]!;
          if (++this.lineLen > 4096) throw new WireError(400, 'chunk size line too long');
          if (c === 10) {
            if (!this.digits) throw new WireError(400, 'bad chunk size');
            this.lineLen = 0;
            if (this.size === 0) this.state = 3;
            else { this.remain = this.size; this.state = 1; }
          } else if (isHex(c) && this.digits < 13) {
            this.size = this.size * 16 + hexVal(c);
            this.digits++;
          } else if (c === 59 || c === 32 || c === 9) this.state = 5;
          else if (c !== 13) throw new WireError(400, 'bad chunk size');
          break;
        }
        case 5: { // chunk extension: skip to LF
          const lf = b.indexOf(10, i);
          if (lf < 0) { this.lineLen += n - i; if (this.lineLen > 4096) throw new WireError(400, 'chunk size line too long'); return -1; }
          i = lf;
          this.state = 0;
          break;
        }
        case 1: { // data
          const take = Math.min(this.remain, n - i);
          i += take;
          this.remain -= take;
          if (this.remain === 0) this.state = 2;
          break;
        }
        case 2: { // CRLF after data
          const c = b[i++]!;
          if (c === 13) break;
          if (c !== 10) throw new WireError(400, 'bad chunk terminator');
          this.state = 0;
          this.size = 0;
          this.digits = 0;
          break;
        }
        case 3: { // at the start of a trailer line (or the final CRLF)
          const c = b[i++]!;
          if (c === 13) break;
          if (c === 10) { this.reset(); return i; }
          this.state = 4;
          break;
        }
        case 4: { // inside a trailer line
          const lf = b.indexOf(10, i);
          if (lf < 0) return -1;
          i = lf + 1;
          this.state = 3;
          break;
        }
      }
    }
    return -1;
  }

  private reset(): void {
    this.state = 0;
    this.size = 0;
    this.digits = 0;
    this.remain = 0;
    this.lineLen = 0;
  }
}

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const hexVal = (c: number) => (c <= 57 ? c - 48 : (c | 32) - 87);
