/**
 * Server-side encryption keys. SSE-S3: a random 256-bit data key per blob,
 * wrapped with the master key (AES-256-GCM). SSE-C: the data key is derived
 * from the customer key and a per-blob salt; the customer key is never
 * stored, only an HMAC that tells a wrong key from a corrupt blob.
 * The master key lives in a file created with mode 0600.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { BlobCipher } from './blobcodec.ts';
import type { BlobSse, SseRequest } from './types.ts';
import { S3Error } from '../s3/errors.ts';

export interface KeyRing {
  /** A fresh cipher for a new blob and what to store about it. */
  newBlob(req: SseRequest): { cipher: BlobCipher; sse: BlobSse };
  /** The cipher to read a stored blob; SSE-C needs the customer key (AccessDenied when wrong or missing). */
  open(sse: BlobSse, customer?: SseRequest): BlobCipher;
}

export async function loadMasterKey(path: string): Promise<Buffer> {
  try {
    const b = await fsp.readFile(path);
    if (b.length !== 32) throw new Error(`master key ${path} must be 32 bytes`);
    return b;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fsp.mkdir(dirname(path), { recursive: true });
  const key = randomBytes(32);
  const tmp = `${path}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, key, { mode: 0o600 });
  await fsp.chmod(tmp, 0o600);
  await fsp.rename(tmp, path);
  return key;
}

export function createKeyRing(master: Buffer): KeyRing {
  const wrap = (dk: Buffer): string => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', master, iv);
    const ct = Buffer.concat([c.update(dk), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
  };
  const unwrap = (w: string): Buffer => {
    const b = Buffer.from(w, 'base64');
    const d = createDecipheriv('aes-256-gcm', master, b.subarray(0, 12));
    d.setAuthTag(b.subarray(b.length - 16));
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
  };
  const derive = (ck: Buffer, salt: Buffer) => createHmac('sha256', ck).update('yun-sse-c-data').update(salt).digest();
  const check = (ck: Buffer, salt: Buffer) => createHmac('sha256', ck).update('yun-sse-c-check').update(salt).digest('base64');
  return {
    newBlob(req) {
      const ivPrefix = randomBytes(8);
      if (req.type === 'S3') {
        const key = randomBytes(32);
        return { cipher: { key, ivPrefix }, sse: { t: 'S3', wk: wrap(key), iv: ivPrefix.toString('base64') } };
      }
      const salt = randomBytes(16);
      return { cipher: { key: derive(req.key, salt), ivPrefix }, sse: { t: 'C', salt: salt.toString('base64'), iv: ivPrefix.toString('base64'), check: check(req.key, salt) } };
    },
    open(sse, customer) {
      const ivPrefix = Buffer.from(sse.iv, 'base64');
      if (sse.t === 'S3') return { key: unwrap(sse.wk), ivPrefix };
      if (!customer || customer.type !== 'C') throw new S3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
      const salt = Buffer.from(sse.salt, 'base64');
      if (check(customer.key, salt) !== sse.check) throw new S3Error('AccessDenied', 'The provided SSE-C key does not match the key used to encrypt the object');
      return { key: derive(customer.key, salt), ivPrefix };
    },
  };
}
