/**
 * The bucket browser's S3 client: real S3 requests, SigV4-signed in the
 * browser for the cloud's S3 endpoint (from `/v1/regions`), sent through the
 * API server's same-origin `/s3/` tunnel (src/console/serve.ts). Credentials
 * are an access key made for this page load (`POST /v1/access-keys`), kept
 * in memory only and deleted when the page goes away.
 */
import type { YunClient } from '../../src/sdk/client.ts';
import { type Credentials, presign, signHeaders, uriEncode } from './sigv4.ts';

export interface BucketInfo { name: string; created: string }
export interface ObjectInfo { key: string; size: number; modified: string; etag: string }
export interface Listing { folders: string[]; objects: ObjectInfo[]; truncated: boolean }

const TUNNEL = '/s3';
const MULTIPART_OVER = 16 * 2 ** 20;
const PART = 8 * 2 ** 20;

export class S3Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

const xml = (text: string) => new DOMParser().parseFromString(text, 'application/xml');
const all = (d: Document | Element, tag: string) => [...d.getElementsByTagName(tag)];
const txt = (e: Element | Document, tag: string) => e.getElementsByTagName(tag)[0]?.textContent ?? '';

async function fail(res: Response): Promise<never> {
  const body = await res.text().catch(() => '');
  const d = body.startsWith('<') ? xml(body) : undefined;
  const code = (d && txt(d, 'Code')) || String(res.status);
  const msg = (d && txt(d, 'Message')) || (res.status === 502 ? 'the S3 endpoint is not answering' : res.statusText);
  throw new S3Error(res.status, code, `${msg} (${code})`);
}

export class S3Browser {
  constructor(private readonly creds: Credentials, readonly endpoint: string) {}
  private get host() { return new URL(this.endpoint).host; }

  private async send(method: string, path: string, o: { query?: [string, string][]; headers?: Record<string, string>; body?: BodyInit } = {}): Promise<Response> {
    const headers = await signHeaders(this.creds, { method, host: this.host, path, query: o.query, headers: o.headers });
    const qs = o.query?.length ? `?${o.query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&')}` : '';
    const res = await fetch(`${TUNNEL}${uriEncode(path, true)}${qs}`, { method, headers, body: o.body });
    if (!res.ok) await fail(res);
    return res;
  }

  async buckets(): Promise<BucketInfo[]> {
    const d = xml(await (await this.send('GET', '/')).text());
    return all(d, 'Bucket').map((b) => ({ name: txt(b, 'Name'), created: txt(b, 'CreationDate') }));
  }
  async createBucket(name: string): Promise<void> { await this.send('PUT', `/${name}`); }
  async deleteBucket(name: string): Promise<void> { await this.send('DELETE', `/${name}`); }

  /** One folder level: common prefixes by `/` and the objects directly in it (first 1000 of each page, up to 5 pages). */
  async list(bucket: string, prefix: string): Promise<Listing> {
    const out: Listing = { folders: [], objects: [], truncated: false };
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const q: [string, string][] = [['list-type', '2'], ['delimiter', '/'], ['prefix', prefix]];
      if (token) q.push(['continuation-token', token]);
      const d = xml(await (await this.send('GET', `/${bucket}`, { query: q })).text());
      out.folders.push(...all(d, 'CommonPrefixes').map((p) => txt(p, 'Prefix')));
      out.objects.push(...all(d, 'Contents').map((c) => ({ key: txt(c, 'Key'), size: Number(txt(c, 'Size')), modified: txt(c, 'LastModified'), etag: txt(c, 'ETag') })));
      token = txt(d, 'NextContinuationToken') || undefined;
      if (txt(d, 'IsTruncated') !== 'true' || !token) return out;
    }
    out.truncated = true;
    return out;
  }

  async deleteObject(bucket: string, key: string): Promise<void> { await this.send('DELETE', `/${bucket}/${key}`); }

  async versioning(bucket: string): Promise<string> {
    return txt(xml(await (await this.send('GET', `/${bucket}`, { query: [['versioning', '']] })).text()), 'Status') || 'Off';
  }
  async setVersioning(bucket: string, on: boolean): Promise<void> {
    const body = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${on ? 'Enabled' : 'Suspended'}</Status></VersioningConfiguration>`;
    await this.send('PUT', `/${bucket}`, { query: [['versioning', '']], body, headers: { 'content-type': 'application/xml' } });
  }

  /** Uploads with progress (XHR: fetch reports none); multipart above 16 MiB, 8 MiB parts. */
  async upload(bucket: string, key: string, file: Blob, onProgress: (sent: number) => void, signal?: AbortSignal): Promise<void> {
    const type = file.type || 'application/octet-stream';
    if (file.size <= MULTIPART_OVER) {
      await this.xhrPut(`/${bucket}/${key}`, [], file, { 'content-type': type }, onProgress, signal);
      return;
    }
    const init = xml(await (await this.send('POST', `/${bucket}/${key}`, { query: [['uploads', '']], headers: { 'content-type': type } })).text());
    const uploadId = txt(init, 'UploadId');
    const etags: string[] = [];
    try {
      for (let off = 0, n = 1; off < file.size; off += PART, n++) {
        const part = file.slice(off, off + PART);
        const etag = await this.xhrPut(`/${bucket}/${key}`, [['partNumber', String(n)], ['uploadId', uploadId]], part, {}, (s) => onProgress(off + s), signal);
        etags.push(etag);
      }
      const body = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const res = await this.send('POST', `/${bucket}/${key}`, { query: [['uploadId', uploadId]], body, headers: { 'content-type': 'application/xml' } });
      const done = xml(await res.text());
      if (txt(done, 'Code')) throw new S3Error(500, txt(done, 'Code'), txt(done, 'Message'));
    } catch (e) {
      await this.send('DELETE', `/${bucket}/${key}`, { query: [['uploadId', uploadId]] }).catch(() => undefined);
      throw e;
    }
  }

  private async xhrPut(path: string, query: [string, string][], body: Blob, extra: Record<string, string>, onProgress: (n: number) => void, signal?: AbortSignal): Promise<string> {
    const headers = await signHeaders(this.creds, { method: 'PUT', host: this.host, path, query, headers: extra });
    const qs = query.length ? `?${query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&')}` : '';
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('PUT', `${TUNNEL}${uriEncode(path, true)}${qs}`);
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      x.upload.onprogress = (e) => onProgress(e.loaded);
      x.onload = () => {
        if (x.status >= 200 && x.status < 300) { onProgress(body.size); resolve(x.getResponseHeader('etag') ?? ''); return; }
        const d = x.responseText.startsWith('<') ? xml(x.responseText) : undefined;
        reject(new S3Error(x.status, (d && txt(d, 'Code')) || String(x.status), (d && txt(d, 'Message')) || `upload failed: HTTP ${x.status}`));
      };
      x.onerror = () => reject(new Error('upload failed: network error'));
      x.onabort = () => reject(new Error('upload cancelled'));
      signal?.addEventListener('abort', () => x.abort());
      x.send(body);
    });
  }

  /** A link for the browser to download through the tunnel (the file never sits in page memory). */
  downloadUrl(bucket: string, key: string): Promise<string> {
    return presign(this.creds, { method: 'GET', host: this.host, path: `/${bucket}/${key}`, expires: 300, query: [['response-content-disposition', `attachment; filename="${key.split('/').pop()!.replace(/"/g, '')}"`]] })
      .then((pq) => `${TUNNEL}${pq}`);
  }

  /** A presigned GET on the S3 endpoint itself, to share (anyone with it can read until it expires). */
  async shareUrl(bucket: string, key: string, expires = 3600): Promise<string> {
    return `${this.endpoint}${await presign(this.creds, { method: 'GET', host: this.host, path: `/${bucket}/${key}`, expires })}`;
  }
}

const sessions = new WeakMap<YunClient, Promise<S3Browser | undefined>>();
const releases = new WeakMap<YunClient, () => Promise<unknown>>();

/** Deletes the session's access key now (logout), instead of when the page goes away. */
export async function releaseS3(client: YunClient): Promise<void> {
  await releases.get(client)?.().catch(() => undefined);
}

/**
 * The S3 client of a console session (one per client, i.e. per login and
 * project), or undefined when this cloud has no S3 endpoint answering.
 */
export function s3For(client: YunClient): Promise<S3Browser | undefined> {
  let p = sessions.get(client);
  if (!p) {
    p = (async () => {
      const probe = await fetch(`${TUNNEL}/`, { method: 'HEAD' });
      if (probe.status === 502 || probe.status === 404 || probe.status === 503) return undefined;
      const regions = await client.regions();
      const r = regions.items[0];
      if (!r?.endpoints.s3) return undefined;
      const key = await client.accessKeys.create('yun console (browser session)');
      const drop = () =>
        fetch(`/v1/access-keys/${encodeURIComponent(key.accessKeyId)}`, { method: 'DELETE', keepalive: true, headers: { authorization: `Bearer ${client.token}`, 'x-yun-project': client.project ?? '' } });
      const onHide = () => void drop().catch(() => undefined);
      window.addEventListener('pagehide', onHide, { once: true });
      releases.set(client, () => { window.removeEventListener('pagehide', onHide); return drop(); });
      return new S3Browser({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, region: r.name }, r.endpoints.s3);
    })();
    p.catch(() => sessions.delete(client));
    sessions.set(client, p);
  }
  return p;
}
