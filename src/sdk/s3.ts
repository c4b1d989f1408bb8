import { XMLParser } from 'fast-xml-parser';
import { type Credentials, signRequest } from '../objects/s3/sigv4.ts';

/**
 * A small S3 client for the CLI and scripts: SigV4-signed fetch calls for
 * buckets and objects, parallel multipart uploads with progress. Anything
 * else speaks to the endpoint with any S3 client.
 */
export interface S3ClientOptions { endpoint: string; region: string; credentials: Credentials }
export interface S3Object { key: string; size: number; lastModified: string; etag: string }

export class S3Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); this.name = 'S3Error'; }
}

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => ['Bucket', 'Contents', 'CommonPrefixes', 'Part', 'Upload'].includes(name) });
const PART = 8 * 1024 * 1024;
const PARALLEL = 4;

export class S3Lite {
  constructor(private readonly o: S3ClientOptions) {}

  private url(bucket?: string, key?: string, query: Record<string, string> = {}): URL {
    const path = bucket === undefined ? '/' : key === undefined ? `/${encodeURIComponent(bucket)}` : `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const u = new URL(this.o.endpoint.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  }

  async send(method: string, u: URL, body?: Buffer, headers: Record<string, string> = {}): Promise<Response> {
    const signed = signRequest({ method, url: u, headers, body: body ?? '', region: this.o.region, credentials: this.o.credentials });
    const { host: _host, ...send } = signed.headers;
    const res = await fetch(u, { method, headers: send, body: body ? new Uint8Array(body) : undefined });
    if (res.status >= 300) {
      const text = await res.text();
      const e = text ? (xml.parse(text) as { Error?: { Code?: string; Message?: string } }).Error : undefined;
      throw new S3Error(res.status, e?.Code ?? String(res.status), `${e?.Code ?? res.status}: ${e?.Message ?? res.statusText}`);
    }
    return res;
  }

  async listBuckets(): Promise<{ name: string; created: string }[]> {
    const doc = xml.parse(await (await this.send('GET', this.url())).text()) as { ListAllMyBucketsResult: { Buckets?: { Bucket?: { Name: string; CreationDate: string }[] } } };
    return (doc.ListAllMyBucketsResult.Buckets?.Bucket ?? []).map((b) => ({ name: b.Name, created: b.CreationDate }));
  }

  async createBucket(bucket: string): Promise<void> { await this.send('PUT', this.url(bucket)); }
  async deleteBucket(bucket: string): Promise<void> { await this.send('DELETE', this.url(bucket)); }

  /** Every object under `prefix`, following continuation tokens; with a delimiter, folders come back as prefixes. */
  async list(bucket: string, prefix = '', delimiter?: string): Promise<{ objects: S3Object[]; prefixes: string[] }> {
    const objects: S3Object[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const q: Record<string, string> = { 'list-type': '2', prefix, ...(delimiter ? { delimiter } : {}), ...(token ? { 'continuation-token': token } : {}) };
      const doc = xml.parse(await (await this.send('GET', this.url(bucket, undefined, q))).text()) as {
        ListBucketResult: { Contents?: { Key: string; Size: string; LastModified: string; ETag: string }[]; CommonPrefixes?: { Prefix: string }[]; IsTruncated: string; NextContinuationToken?: string };
      };
      const r = doc.ListBucketResult;
      for (const c of r.Contents ?? []) objects.push({ key: String(c.Key), size: Number(c.Size), lastModified: c.LastModified, etag: c.ETag });
      for (const p of r.CommonPrefixes ?? []) prefixes.push(String(p.Prefix));
      token = r.IsTruncated === 'true' ? r.NextContinuationToken : undefined;
    } while (token);
    return { objects, prefixes };
  }

  async deleteObject(bucket: string, key: string): Promise<void> { await this.send('DELETE', this.url(bucket, key)); }

  async getObject(bucket: string, key: string): Promise<Response> { return this.send('GET', this.url(bucket, key)); }

  /**
   * Uploads `size` bytes read by `read(offset, length)`: one PUT up to 8 MiB,
   * otherwise a multipart upload with 4 parts in flight (aborted on failure).
   */
  async putObject(bucket: string, key: string, size: number, read: (offset: number, length: number) => Promise<Buffer>, onProgress?: (bytes: number) => void, contentType?: string): Promise<string> {
    const ct: Record<string, string> = contentType ? { 'content-type': contentType } : {};
    if (size <= PART) {
      const body = await read(0, size);
      const res = await this.send('PUT', this.url(bucket, key), body, ct);
      onProgress?.(size);
      return res.headers.get('etag') ?? '';
    }
    const init = xml.parse(await (await this.send('POST', this.url(bucket, key, { uploads: '' }), undefined, ct)).text()) as { InitiateMultipartUploadResult: { UploadId: string } };
    const uploadId = String(init.InitiateMultipartUploadResult.UploadId);
    const count = Math.ceil(size / PART);
    const etags: string[] = new Array(count);
    let next = 0;
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL, count) }, async () => {
        for (let i = next++; i < count; i = next++) {
          const off = i * PART;
          const body = await read(off, Math.min(PART, size - off));
          const res = await this.send('PUT', this.url(bucket, key, { partNumber: String(i + 1), uploadId }), body);
          etags[i] = res.headers.get('etag') ?? '';
          onProgress?.(body.length);
        }
      }));
      const done = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const res = await this.send('POST', this.url(bucket, key, { uploadId }), Buffer.from(done), { 'content-type': 'application/xml' });
      const out = xml.parse(await res.text()) as { CompleteMultipartUploadResult?: { ETag: string } };
      return out.CompleteMultipartUploadResult?.ETag ?? '';
    } catch (e) {
      await this.send('DELETE', this.url(bucket, key, { uploadId })).catch(() => undefined);
      throw e;
    }
  }
}
