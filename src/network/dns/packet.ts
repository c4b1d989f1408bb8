/**
 * Minimal DNS wire format (RFC 1035) for an authoritative A-record responder.
 * Parsing is defensive: every read is bounds-checked, name compression in the
 * question is refused, and anything odd yields a FORMERR or is dropped. Never
 * throws on hostile input.
 */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const QTYPE_A = 1;
export const QTYPE_AAAA = 28;
export const QTYPE_ANY = 255;
const CLASS_IN = 1;

export interface DnsQuery {
  id: number;
  /** Recursion desired bit, echoed back. */
  rd: boolean;
  /** Lowercased name without trailing dot. */
  name: string;
  qtype: number;
  qclass: number;
  /** Raw question section bytes, echoed in the answer. */
  question: Buffer;
}

export type ParseResult = { ok: true; query: DnsQuery } | { ok: false; id?: number; reply: boolean };

/** Parses a query. `reply: false` means drop silently (not even a FORMERR). */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12 || buf.length > 4096) return { ok: false, reply: false };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { ok: false, reply: false }; // a response: never answer it
  const opcode = (flags >> 11) & 0xf;
  const qd = buf.readUInt16BE(4);
  if (opcode !== 0 || qd !== 1) return { ok: false, id, reply: true };
  let off = 12;
  const labels: string[] = [];
  let nameLen = 0;
  for (;;) {
    if (off >= buf.length) return { ok: false, id, reply: true };
    const len = buf[off]!;
    off += 1;
    if (len === 0) break;
    if (len & 0xc0) return { ok: false, id, reply: true }; // compression or reserved bits in a question
    if (off + len > buf.length) return { ok: false, id, reply: true };
    nameLen += len + 1;
    if (nameLen > 255) return { ok: false, id, reply: true };
    labels.push(buf.toString('latin1', off, off + len).toLowerCase());
    off += len;
  }
  if (off + 4 > buf.length) return { ok: false, id, reply: true };
  const qtype = buf.readUInt16BE(off);
  const qclass = buf.readUInt16BE(off + 2);
  off += 4;
  return { ok: true, query: { id, rd: (flags & 0x0100) !== 0, name: labels.join('.'), qtype, qclass, question: buf.subarray(12, off) } };
}

function header(id: number, rd: boolean, rcode: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  // QR=1, AA=1, RD echoed, RA=0.
  h.writeUInt16BE(0x8000 | 0x0400 | (rd ? 0x0100 : 0) | (rcode & 0xf), 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

/** Builds an answer with the given A addresses (may be empty for NODATA / NXDOMAIN). */
export function buildAnswer(q: DnsQuery, rcode: number, addrs: string[], ttl = 5): Buffer {
  const answers = addrs.map((a) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(QTYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    const parts = a.split('.').map(Number);
    for (let i = 0; i < 4; i++) rr[12 + i] = parts[i]!;
    return rr;
  });
  return Buffer.concat([header(q.id, q.rd, rcode, 1, answers.length), q.question, ...answers]);
}

export function buildError(id: number, rcode: number): Buffer {
  return header(id, false, rcode, 0, 0);
}

export function isInClass(q: DnsQuery): boolean {
  return q.qclass === CLASS_IN || q.qclass === 255;
}

/** Builds a query packet (used by tests and health checks). */
export function buildQuery(id: number, name: string, qtype = QTYPE_A): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => {
    const b = Buffer.from(l, 'latin1');
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1);
  tail.writeUInt16BE(CLASS_IN, 3);
  return Buffer.concat([h, ...parts, tail]);
}

/** Reads the rcode and A answers of a response built by buildAnswer (test helper). */
export function readAnswer(buf: Buffer): { id: number; rcode: number; addrs: string[] } {
  const id = buf.readUInt16BE(0);
  const rcode = buf.readUInt16BE(2) & 0xf;
  const an = buf.readUInt16BE(6);
  let off = 12;
  if (buf.readUInt16BE(4) === 1) {
    while (buf[off] !== 0) off += buf[off]! + 1;
    off += 5;
  }
  const addrs: string[] = [];
  for (let i = 0; i < an; i++) {
    const rdlen = buf.readUInt16BE(off + 10);
    if (buf.readUInt16BE(off + 2) === QTYPE_A) addrs.push([...buf.subarray(off + 12, off + 16)].join('.'));
    off += 12 + rdlen;
  }
  return { id, rcode, addrs };
}
