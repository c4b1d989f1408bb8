/**
 * A lightweight S3 load client: SigV4 header signing with the service's own
 * signer (UNSIGNED-PAYLOAD), keep-alive agent, bodies from memory. Much
 * cheaper per request than the AWS SDK, so the server is what is measured.
 */
import { Agent, request } from 'node:http';
import { signRequest } from '../../src/objects/s3/sigv4.ts';

export const BENCH_KEY = { accessKeyId: 'AKIAYUNBENCH00000001', secretAccessKey: 'bench/secret/0123456789abcdefghijklmnopq' };
export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface Client { put(path: string, body: Buffer): Promise<number>; get(path: string): Promise<number>; close(): void }

export function createClient(base: string, creds?: { accessKeyId: string; secretAccessKey: string }, maxSockets = 64): Client {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const u = new URL(base);
  const sign = (method: string, path: string): Record<string, string> => {
    if (!creds) return {};
    return signRequest({ method, url: `${base}${path}`, payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1', credentials: creds }).headers;
  };
  const doReq = (method: string, path: string, body?: Buffer) => new Promise<number>((resolve, reject) => {
    const headers = sign(method, path);
    if (body) headers['content-length'] = String(body.length);
    const req = request({ host: u.hostname, port: u.port, path, method, headers, agent }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => { n += d.length; });
      res.on('end', () => (res.statusCode! < 300 ? resolve(n) : reject(new Error(`${method} ${path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && body.length > 1024 * 1024) {
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const end = Math.min(body.length, off + 1024 * 1024);
          const ok = req.write(body.subarray(off, end));
          off = end;
          if (!ok) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    } else req.end(body);
  });
  return { put: (p, b) => doReq('PUT', p, b), get: (p) => doReq('GET', p), close: () => agent.destroy() };
}
