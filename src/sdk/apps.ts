/**
 * The apps part of the SDK:
 *   const a = apps(cloud);
 *   await a.deployImage('hello', { image: 'busybox', port: 8080, replicas: 2, command: ['httpd', '-f', '-p', '8080'] });
 *   await a.waitAvailable('hello'); await a.scale('hello', 5); await a.rollback('hello');
 *   await a.deploySource('shop', tarBytes, { port: 8080 });
 *   await a.apply(yamlText, 'deployment.yaml');
 */
import type { AppTraffic } from '../apps/metrics.ts';
import type { AppSpec, AppStatus, RevisionSpec, RevisionStatus } from '../apps/types.ts';
import type { Resource } from '../core/resource.ts';
import { YunApiError, type YunClient } from './client.ts';

export type AppResource = Resource<AppSpec, AppStatus>;
export type RevisionResource = Resource<RevisionSpec, RevisionStatus> & { current: boolean };
export interface ApplyResponse {
  results: { document: number; kind: string; name: string; yunKind: string; action: string }[];
  warnings: { document: number; path: string; message: string }[];
  dryRun?: boolean;
}
export interface AppStatusView { name: string; spec: Pick<AppSpec, 'replicas' | 'image' | 'port'>; status: AppStatus; traffic: AppTraffic }

const enc = encodeURIComponent;

export class AppsApi {
  constructor(private readonly c: YunClient) {}

  list(): Promise<{ items: AppResource[] }> { return this.c.request('GET', '/v1/apps'); }
  get(name: string): Promise<AppResource> { return this.c.request('GET', `/v1/apps/${enc(name)}`); }

  /** Creates the app, or updates it (a new revision when the template changed). */
  async deployImage(name: string, spec: AppSpec): Promise<AppResource> {
    const cur = await this.get(name).catch((e) => { if (e instanceof YunApiError && e.status === 404) return undefined; throw e; });
    if (!cur) return this.c.request('POST', '/v1/apps', { body: { name, spec } });
    return this.c.request('PUT', `/v1/apps/${enc(name)}`, { body: { spec: { ...spec, ...(spec.domains ? {} : cur.spec.domains ? { domains: cur.spec.domains } : {}) }, resourceVersion: cur.resourceVersion } });
  }

  /** Uploads a folder packed as tar or tar.gz. */
  async deploySource(name: string, archive: Uint8Array, o: { port?: number; replicas?: number; changeCause?: string } = {}): Promise<AppResource> {
    const url = new URL(`${this.c.endpoint}/v1/apps/${enc(name)}/source`);
    for (const [k, v] of Object.entries(o)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { 'content-type': archive[0] === 0x1f && archive[1] === 0x8b ? 'application/gzip' : 'application/x-tar' };
    if (this.c.token) headers.authorization = `Bearer ${this.c.token}`;
    if (this.c.project) headers['x-yun-project'] = this.c.project;
    const res = await fetch(url, { method: 'POST', headers, body: archive as unknown as BodyInit });
    const body = await res.json().catch(() => ({})) as Record<string, unknown>;
    if (!res.ok) throw new YunApiError(res.status, String(body.code ?? res.status), String(body.detail ?? body.title ?? res.statusText), body.field as string | undefined, body);
    return body as unknown as AppResource;
  }

  scale(name: string, replicas: number): Promise<AppResource> { return this.c.request('POST', `/v1/apps/${enc(name)}/scale`, { body: { replicas } }); }
  rollback(name: string, revision?: number): Promise<AppResource> { return this.c.request('POST', `/v1/apps/${enc(name)}/rollback`, { body: revision ? { revision } : {} }); }
  history(name: string): Promise<{ items: RevisionResource[] }> { return this.c.request('GET', `/v1/apps/${enc(name)}/revisions`); }
  status(name: string): Promise<AppStatusView> { return this.c.request('GET', `/v1/apps/${enc(name)}/status`); }
  replicas(name: string): Promise<{ items: Resource[] }> { return this.c.request('GET', `/v1/apps/${enc(name)}/replicas`); }
  delete(name: string): Promise<unknown> { return this.c.request('DELETE', `/v1/apps/${enc(name)}`); }

  /** Logs of all replicas; with `follow`, calls `onChunk` until `signal` aborts or the app is gone. */
  async logs(name: string, o: { follow?: boolean; tailBytes?: number; since?: string; signal?: AbortSignal; onChunk?: (s: string) => void } = {}): Promise<string> {
    const url = new URL(`${this.c.endpoint}/v1/apps/${enc(name)}/logs`);
    if (o.follow) url.searchParams.set('follow', 'true');
    if (o.tailBytes !== undefined) url.searchParams.set('tailBytes', String(o.tailBytes));
    if (o.since) url.searchParams.set('since', o.since);
    const headers: Record<string, string> = {};
    if (this.c.token) headers.authorization = `Bearer ${this.c.token}`;
    if (this.c.project) headers['x-yun-project'] = this.c.project;
    const res = await fetch(url, { headers, signal: o.signal });
    if (!res.ok) {
      const p = await res.json().catch(() => ({})) as Record<string, unknown>;
      throw new YunApiError(res.status, String(p.code ?? res.status), String(p.detail ?? res.statusText));
    }
    if (!o.onChunk || !res.body) return res.text();
    const dec = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) o.onChunk(dec.decode(chunk, { stream: true }));
    return '';
  }

  apply(manifest: string, file?: string, dryRun?: boolean): Promise<ApplyResponse> {
    return this.c.request('POST', '/v1/apply', { body: { manifest, ...(file ? { file } : {}), ...(dryRun ? { dryRun } : {}) } });
  }

  deleteManifest(manifest: string, file?: string): Promise<ApplyResponse> {
    return this.c.request('POST', '/v1/apply/delete', { body: { manifest, ...(file ? { file } : {}) } });
  }

  /**
   * Waits until the app is Available at its latest generation (or fails:
   * Failed / CrashLoopBackOff after the deadline). `onProgress` sees each status.
   */
  async waitAvailable(name: string, o: { timeoutMs?: number; onProgress?: (a: AppResource) => void } = {}): Promise<AppResource> {
    const end = Date.now() + (o.timeoutMs ?? 300_000);
    for (;;) {
      const a = await this.get(name);
      o.onProgress?.(a);
      const s = a.status;
      if (s.observedGeneration === a.generation && s.state === 'Available') return a;
      if (s.observedGeneration === a.generation && s.state === 'Failed') throw new Error(`app ${name} failed: ${s.message ?? ''}`);
      if (Date.now() > end) throw new Error(`timed out waiting for app ${name}: ${s.state ?? 'Pending'} ${s.message ?? ''}${s.lastLog ? `\n${s.lastLog}` : ''}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

export const apps = (c: YunClient) => new AppsApi(c);
