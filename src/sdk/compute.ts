/**
 * The compute part of the SDK, in the shape OpenStack users expect:
 *   const cloud = new YunClient({ endpoint, token });
 *   const vm = await compute(cloud).flavor('m1.small').launch({ name: 'web1', image: 'busybox' });
 *   await vm.waitFor('running'); console.log(await vm.logs()); await vm.delete();
 */
import type { YunClient } from './client.ts';
import type { Resource } from '../core/resource.ts';
import type { ImageSpec, ImageStatus, InstanceSpec, InstanceStatus } from '../compute/types.ts';

export type InstanceResource = Resource<InstanceSpec, InstanceStatus>;
export type ImageResource = Resource<ImageSpec, ImageStatus>;
export interface LaunchOptions extends Omit<InstanceSpec, 'flavor' | 'size' | 'imageId'> { name?: string; labels?: Record<string, string> }

const TERMINAL = ['error', 'exited', 'OOMKilled', 'stopped'];

async function raw(c: YunClient, method: string, path: string, body?: BodyInit, contentType?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  if (c.project) headers['x-yun-project'] = c.project;
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(`${c.endpoint}${path}`, { method, headers, body, ...(body ? { duplex: 'half' } : {}) } as RequestInit);
  if (!res.ok) {
    const p = await res.json().catch(() => ({})) as { detail?: string; title?: string; code?: string };
    const { YunApiError } = await import('./client.ts');
    throw new YunApiError(res.status, p.code ?? 'Error', p.detail ?? p.title ?? res.statusText, undefined, p as Record<string, unknown>);
  }
  return res;
}

/** A handle on one instance. */
export class InstanceHandle {
  constructor(private readonly c: YunClient, readonly name: string) {}
  private path(s = '') { return `/v1/instances/${encodeURIComponent(this.name)}${s}`; }
  get(): Promise<InstanceResource> { return this.c.request('GET', this.path()); }
  /** Waits until the state is `state` (or a terminal state it cannot leave by itself). */
  async waitFor(state: string, timeoutMs = 60_000, onState?: (s: string) => void): Promise<InstanceResource> {
    const end = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const r = await this.get();
      const s = r.status.state ?? 'pending';
      if (s !== last) { last = s; onState?.(s); }
      if (s === state) return r;
      const seen = (r.status.observedGeneration ?? 0) >= r.generation;
      if (seen && TERMINAL.includes(s) && !TERMINAL.includes(state)) throw new Error(`instance ${this.name} is ${s}${r.status.reason ? `: ${r.status.reason}` : ''}`);
      if (Date.now() > end) throw new Error(`timed out waiting for instance ${this.name} to be ${state} (it is ${s})`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  private act(a: string, body?: unknown): Promise<InstanceResource> { return this.c.request('POST', this.path(`/actions/${a}`), body === undefined ? {} : { body }); }
  start() { return this.act('start'); }
  stop() { return this.act('stop'); }
  reboot() { return this.act('reboot'); }
  rebuild(image?: string) { return this.act('rebuild', image ? { image } : {}); }
  resize(to: { flavor?: string; cpus?: number; memoryMb?: number; allowRestart?: boolean }) { return this.act('resize', to); }
  delete(): Promise<unknown> { return this.c.request('DELETE', this.path()); }
  /** Moves the running instance to these security groups (none: the project's default group); retried on a concurrent update. */
  async setSecurityGroups(groups: string[]): Promise<InstanceResource> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.get();
      try {
        return await this.c.request('PUT', this.path(), { body: { spec: { ...r.spec, securityGroups: groups }, resourceVersion: r.resourceVersion } });
      } catch (e) {
        if (attempt >= 4 || (e as { code?: string }).code !== 'StaleGeneration') throw e;
      }
    }
  }
  exec(command: string[], o: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    return this.c.request('POST', this.path('/exec'), { body: { command, ...o } });
  }
  stats(): Promise<{ cpuSeconds: number; memoryBytes: number; pids: number; blockReadBytes?: number; blockWriteBytes?: number; guestMemoryBytes?: number }> { return this.c.request('GET', this.path('/stats')); }
  async logs(o: { tailBytes?: number } = {}): Promise<string> {
    return (await raw(this.c, 'GET', this.path(`/logs${o.tailBytes !== undefined ? `?tailBytes=${o.tailBytes}` : ''}`))).text();
  }
  /** Streams the console log until the instance stops (or `signal` aborts). */
  async followLogs(onChunk: (s: string) => void, o: { tailBytes?: number; signal?: AbortSignal } = {}): Promise<void> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.c.token ?? ''}` };
    if (this.c.project) headers['x-yun-project'] = this.c.project;
    const q = `?follow=true${o.tailBytes !== undefined ? `&tailBytes=${o.tailBytes}` : ''}`;
    const res = await fetch(`${this.c.endpoint}${this.path(`/logs${q}`)}`, { headers, signal: o.signal });
    if (!res.ok || !res.body) throw new Error(`logs: HTTP ${res.status}`);
    const dec = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) onChunk(dec.decode(chunk, { stream: true }));
  }
}

export class FlavorHandle {
  constructor(private readonly cc: ComputeClient, readonly name: string) {}
  /** Launches an instance of this flavor; resolves once the API accepted it (see `waitFor`). */
  launch(o: LaunchOptions): Promise<InstanceHandle> { return this.cc.launch({ ...o, flavor: this.name }); }
}

export class ComputeClient {
  constructor(readonly c: YunClient) {}
  flavor(name: string): FlavorHandle { return new FlavorHandle(this, name); }
  instance(name: string): InstanceHandle { return new InstanceHandle(this.c, name); }
  flavors() { return this.c.resource('flavors').list(); }
  instances() { return this.c.resource<InstanceSpec, InstanceStatus>('instances').listAll(); }
  images() { return this.c.resource<ImageSpec, ImageStatus>('images').listAll(); }
  pools(): Promise<{ items: Record<string, unknown>[] }> { return this.c.request('GET', '/v1/pools'); }
  async launch(o: LaunchOptions & { flavor?: string }): Promise<InstanceHandle> {
    const { name, labels, ...spec } = o;
    const n = name ?? `i${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    await this.c.request('POST', '/v1/instances', { body: { name: n, ...(labels ? { labels } : {}), spec } });
    return this.instance(n);
  }
  buildImage(name: string, build: 'busybox' | 'node' | 'tiny-vm', o: { public?: boolean } = {}): Promise<ImageResource> {
    return this.c.request('POST', '/v1/images', { body: { name, spec: { source: { build }, ...o } } });
  }
  /** Creates an image and uploads a tar (or tar.gz, or an OCI layout as tar) from a stream or buffer. */
  async importImage(name: string, data: BodyInit, o: { format?: 'rootfs' | 'oci' | 'disk'; public?: boolean; minFlavor?: string } = {}): Promise<ImageResource> {
    const { format = 'rootfs', ...rest } = o;
    await this.c.request('POST', '/v1/images', { body: { name, spec: { source: { upload: format }, ...rest } } });
    return (await raw(this.c, 'PUT', `/v1/images/${encodeURIComponent(name)}/data`, data, 'application/x-tar')).json() as Promise<ImageResource>;
  }
}

/** `compute(cloud).flavor('m1.small').launch({ image: 'busybox' })`. */
export const compute = (c: YunClient) => new ComputeClient(c);
