/** A minimal raw S3 client for protocol tests: SigV4 via the service's own signer, node:http underneath. */
import { request } from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import { type Credentials, signRequest } from '../../src/objects/s3/sigv4.ts';

export interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string }

export function send(url: string, method: string, headers: Record<string, string>, body?: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => { const b = Buffer.concat(parts); resolve({ status: res.statusCode!, headers: res.headers, body: b, text: b.toString() }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function signed(creds: Credentials, method: string, url: string, opts: { headers?: Record<string, string>; body?: Buffer | string; payloadHash?: string; date?: Date } = {}) {
  const body = opts.body ?? '';
  const h = signRequest({ method, url, headers: opts.headers, body: typeof body === 'string' ? Buffer.from(body) : body, payloadHash: opts.payloadHash, region: 'us-east-1', credentials: creds, date: opts.date });
  const headers = { ...h.headers };
  if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') headers['content-length'] = String(Buffer.byteLength(body));
  return { headers, signature: h.signature, send: () => send(url, method, headers, body) };
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const hmac = (k: Buffer, s: string) => createHmac('sha256', k).update(s).digest();

export const errorCode = (r: RawResponse) => /<Code>([^<]*)<\/Code>/.exec(r.text)?.[1];
