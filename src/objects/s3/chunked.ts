/**
 * Decoder for `Content-Encoding: aws-chunked` bodies: signed chunks
 * (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], every chunk signature
 * verified against the previous one, seeded by the request signature) and
 * unsigned chunks with trailing headers (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
 * Yields the decoded payload; trailers are available after the last chunk.
 */
import { createHash } from 'node:crypto';
import { S3Error } from './errors.ts';
import { chunkSignature, trailerSignature } from './sigv4.ts';

export interface ChunkSigning { key: Buffer; amzDate: string; scope: string; seedSignature: string }

export interface ChunkedResult { trailers: Map<string, string> }

const CRLF = Buffer.from('\r\n');
const MAX_LINE = 4096;
const MAX_SIGNED_CHUNK = 16 * 1024 * 1024;

/**
 * Decodes `src`. With `signing`, each chunk must carry a valid
 * `chunk-signature` (else SignatureDoesNotMatch). `out.trailers` is filled
 * once iteration completes. Truncated input → IncompleteBody.
 */
export async function* decodeAwsChunked(src: AsyncIterable<Buffer>, signing: ChunkSigning | undefined, out: ChunkedResult): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  const it = src[Symbol.asyncIterator]();
  let ended = false;
  let prevSig = signing?.seedSignature ?? '';
  const pending: Buffer[] = [];
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await it.next();
    if (r.done) { ended = true; return false; }
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    return true;
  };
  const readLine = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf(CRLF);
      if (i >= 0) { const line = buf.subarray(0, i).toString('latin1'); buf = buf.subarray(i + 2); return line; }
      if (buf.length > MAX_LINE) throw new S3Error('InvalidRequest', 'Malformed aws-chunked encoding');
      if (!(await more())) throw new S3Error('IncompleteBody');
    }
  };
  for (;;) {
    const header = await readLine();
    const semi = header.indexOf(';');
    const sizeHex = (semi < 0 ? header : header.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeHex)) throw new S3Error('InvalidRequest', 'Malformed aws-chunked encoding');
    const size = Number.parseInt(sizeHex, 16);
    // Signed chunks are held until verified, so their size bounds memory.
    if (signing && size > MAX_SIGNED_CHUNK) throw new S3Error('InvalidRequest', 'aws-chunked chunk too large');
    let sig: string | undefined;
    if (semi >= 0) { const m = /chunk-signature=([0-9a-f]{64})/.exec(header.slice(semi + 1)); sig = m?.[1]; }
    if (signing && !sig) throw new S3Error('SignatureDoesNotMatch', 'Missing chunk signature');
    const hash = signing ? createHash('sha256') : undefined;
    let remaining = size;
    while (remaining > 0) {
      if (buf.length === 0 && !(await more())) throw new S3Error('IncompleteBody');
      const take = Math.min(remaining, buf.length);
      const piece = buf.subarray(0, take);
      buf = buf.subarray(take);
      remaining -= take;
      hash?.update(piece);
      if (signing) {
        // Hold the data back until the chunk signature is verified: a tampered
        // chunk must never reach the object.
        pending.push(piece);
      } else yield piece;
    }
    if (signing) {
      const expect = chunkSignature(signing.key, signing.amzDate, signing.scope, prevSig, hash!.digest('hex'));
      if (expect !== sig) throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match');
      prevSig = expect;
      for (const p of pending) yield p;
      pending.length = 0;
    }
    if (size === 0) break;
    while (buf.length < 2) if (!(await more())) throw new S3Error('IncompleteBody');
    if (buf[0] !== 13 || buf[1] !== 10) throw new S3Error('InvalidRequest', 'Malformed aws-chunked encoding');
    buf = buf.subarray(2);
  }
  // Trailers (possibly none) end with an empty line, or just the end of input.
  const trailerLines: string[] = [];
  for (;;) {
    let line: string;
    try { line = await readLine(); } catch (e) { if (ended && buf.length === 0) break; throw e; }
    if (line === '') break;
    trailerLines.push(line);
    if (trailerLines.length > 32) throw new S3Error('InvalidRequest', 'Too many trailers');
  }
  let trailerSig: string | undefined;
  let canonical = '';
  for (const line of trailerLines) {
    const c = line.indexOf(':');
    if (c < 0) throw new S3Error('InvalidRequest', 'Malformed trailer');
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === 'x-amz-trailer-signature') { trailerSig = value; continue; }
    out.trailers.set(name, value);
    canonical += `${name}:${value}\n`;
  }
  if (signing && out.trailers.size > 0) {
    const expect = trailerSignature(signing.key, signing.amzDate, signing.scope, prevSig, canonical);
    if (expect !== trailerSig) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match');
  }
  // Drain anything left so the connection stays usable.
  while (await more()) { /* discard */ }
}
