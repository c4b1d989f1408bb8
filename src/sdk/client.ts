import type { Resource } from '../core/resource.ts';

/** An RFC 9457 problem answered by the API, as a throwable. */
export class YunApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string, readonly problem?: Record<string, unknown>) {
    super(message);
    this.name = 'YunApiError';
  }
}

export interface ClientOptions {
  endpoint: string;
  token?: string;
  /** Project name or id sent as `X-Yun-Project`. */
  project?: string;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
}

export interface Page<T> { items: T[]; nextCursor?: string }

export interface WatchEvent<T = Resource> { id: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; kind: string; object: T }

/** Typed CRUD over one resource kind of the REST API. */
export class ResourceClient<S = Record<string, unknown>, St = Record<string, unknown>> {
  constructor(private readonly c: YunClient, readonly plural: string) {}

  list(q: { labelSelector?: string; limit?: number; cursor?: string; allProjects?: boolean } = {}): Promise<Page<Resource<S, St & Record<string, unknown>>>> {
    return this.c.request('GET', `/v1/${this.plural}`, { query: q });
  }

  /** Every page, concatenated. */
  async listAll(q: { labelSelector?: string; allProjects?: boolean } = {}): Promise<Resource<S, St & Record<string, unknown>>[]> {
    const out: Resource<S, St & Record<string, unknown>>[] = [];
    let cursor: string | undefined;
    do {
      const p = await this.list({ ...q, cursor, limit: 500 });
      out.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor);
    return out;
  }

  get(name: string): Promise<Resource<S, St & Record<string, unknown>>> {
    return this.c.request('GET', `/v1/${this.plural}/${encodeURIComponent(name)}`);
  }

  create(name: string, spec: S, o: { labels?: Record<string, string>; idempotencyKey?: string } = {}): Promise<Resource<S, St & Record<string, unknown>>> {
    return this.c.request('POST', `/v1/${this.plural}`, {
      body: { name, spec, ...(o.labels ? { labels: o.labels } : {}) },
      headers: o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : undefined,
    });
  }

  update(name: string, patch: { spec?: S; labels?: Record<string, string> }, resourceVersion?: number): Promise<Resource<S, St & Record<string, unknown>>> {
    return this.c.request('PUT', `/v1/${this.plural}/${encodeURIComponent(name)}`, { body: { ...patch, ...(resourceVersion !== undefined ? { resourceVersion } : {}) } });
  }

  delete(name: string): Promise<Resource<S, St & Record<string, unknown>> | undefined> {
    return this.c.request('DELETE', `/v1/${this.plural}/${encodeURIComponent(name)}`);
  }

  /** Polls until `done(resource)` is true (or the resource is gone when `gone`), with a timeout. */
  async waitFor(name: string, done: (r: Resource<S, St & Record<string, unknown>>) => boolean, timeoutMs = 60_000): Promise<Resource<S, St & Record<string, unknown>>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.get(name);
      if (done(r)) return r;
      if (Date.now() > end) throw new Error(`timed out waiting for ${this.plural}/${name} (state ${String((r.status as Record<string, unknown>).state)})`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

/**
 * The typed TypeScript client for yun's public API. The CLI, the console
 * and the tests all use it; nothing reaches around the API.
 */
export class YunClient {
  readonly endpoint: string;
  token?: string;
  project?: string;
  private readonly f: typeof fetch;

  constructor(o: ClientOptions) {
    this.endpoint = o.endpoint.replace(/\/+$/, '');
    this.token = o.token;
    this.project = o.project;
    this.f = o.fetch ?? fetch;
  }

  /** A client for another project with the same credentials. */
  withProject(project: string): YunClient {
    return new YunClient({ endpoint: this.endpoint, token: this.token, project, fetch: this.f });
  }

  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...(o.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.project) headers['x-yun-project'] = this.project;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.f(url, { method, headers, body: o.body !== undefined ? JSON.stringify(o.body) : undefined });
    } catch (e) {
      throw new YunApiError(0, 'Unreachable', `cannot reach ${this.endpoint}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const p = (data ?? {}) as Record<string, unknown>;
      throw new YunApiError(res.status, String(p.code ?? res.status), String(p.detail ?? p.title ?? res.statusText), p.field as string | undefined, p);
    }
    return data as T;
  }

  resource<S = Record<string, unknown>, St = Record<string, unknown>>(plural: string): ResourceClient<S, St> {
    return new ResourceClient<S, St>(this, plural);
  }

  async login(user: string, password: string): Promise<{ token: string; expiresAt: string; user: string }> {
    const r = await this.request<{ token: string; expiresAt: string; user: string }>('POST', '/v1/auth/login', { body: { user, password } });
    this.token = r.token;
    return r;
  }

  logout(): Promise<void> { return this.request('POST', '/v1/auth/logout'); }
  whoami(): Promise<{ user: string; userId: string; isAdmin: boolean; project?: string; role?: string; memberships: { project: string; role: string }[] }> {
    return this.request('GET', '/v1/whoami');
  }

  readonly projects = {
    list: () => this.request<Page<{ id: string; name: string; description: string }>>('GET', '/v1/projects'),
    create: (name: string, description?: string) => this.request<{ id: string; name: string }>('POST', '/v1/projects', { body: { name, ...(description ? { description } : {}) } }),
    get: (name: string) => this.request<Record<string, unknown>>('GET', `/v1/projects/${encodeURIComponent(name)}`),
    delete: (name: string) => this.request<void>('DELETE', `/v1/projects/${encodeURIComponent(name)}`),
    members: (name: string) => this.request<Page<{ userName: string; role: string }>>('GET', `/v1/projects/${encodeURIComponent(name)}/members`),
    grant: (name: string, user: string, role: string) => this.request('PUT', `/v1/projects/${encodeURIComponent(name)}/members/${encodeURIComponent(user)}`, { body: { role } }),
    revoke: (name: string, user: string) => this.request<void>('DELETE', `/v1/projects/${encodeURIComponent(name)}/members/${encodeURIComponent(user)}`),
  };

  readonly users = {
    list: (all = false) => this.request<Page<{ id: string; name: string; isAdmin: boolean }>>('GET', '/v1/users', { query: { all: all || undefined } }),
    create: (u: { name: string; password?: string; role?: string; admin?: boolean; project?: string; email?: string }) =>
      this.request<{ id: string; name: string; password?: string }>('POST', '/v1/users', { body: u }),
    get: (name: string) => this.request<Record<string, unknown>>('GET', `/v1/users/${encodeURIComponent(name)}`),
    delete: (name: string) => this.request<void>('DELETE', `/v1/users/${encodeURIComponent(name)}`),
  };

  readonly tokens = {
    list: () => this.request<Page<{ id: string; name: string; kind: string; expiresAt?: string }>>('GET', '/v1/tokens'),
    create: (name: string, ttlSeconds?: number) => this.request<{ id: string; token: string }>('POST', '/v1/tokens', { body: { name, ...(ttlSeconds ? { ttlSeconds } : {}) } }),
    revoke: (id: string) => this.request<void>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`),
  };

  readonly accessKeys = {
    list: () => this.request<Page<{ accessKeyId: string; userId: string; createdAt: string }>>('GET', '/v1/access-keys'),
    create: (description?: string) => this.request<{ accessKeyId: string; secretAccessKey: string; project: string }>('POST', '/v1/access-keys', { body: description ? { description } : {} }),
    delete: (id: string) => this.request<void>('DELETE', `/v1/access-keys/${encodeURIComponent(id)}`),
  };

  readonly policies = {
    list: () => this.request<Page<{ id: string; name: string; document: unknown; attachedTo: string[] }>>('GET', '/v1/policies'),
    create: (name: string, document: unknown) => this.request<{ id: string; name: string }>('POST', '/v1/policies', { body: { name, document } }),
    delete: (name: string) => this.request<void>('DELETE', `/v1/policies/${encodeURIComponent(name)}`),
    attach: (name: string, user: string) => this.request<void>('POST', `/v1/policies/${encodeURIComponent(name)}/attachments`, { body: { user } }),
    detach: (name: string, user: string) => this.request<void>('DELETE', `/v1/policies/${encodeURIComponent(name)}/attachments/${encodeURIComponent(user)}`),
  };

  readonly quotas = {
    show: () => this.request<{ project: string; items: { resource: string; limit: number; used: number }[] }>('GET', '/v1/quotas'),
    set: (resource: string, limit: number) => this.request<{ items: unknown[] }>('PUT', `/v1/quotas/${encodeURIComponent(resource)}`, { body: { limit } }),
  };

  regions(): Promise<Page<{ name: string; zones: string[]; endpoints: Record<string, string> }>> { return this.request('GET', '/v1/regions'); }
  get hosts() { return this.resource('hosts'); }

  /**
   * Follows `/v1/events` (server-sent events). Returns a stop function.
   * Reconnects with Last-Event-ID after a dropped connection.
   */
  watch(o: { kind?: string; since?: number; allProjects?: boolean }, onEvent: (e: WatchEvent) => void): () => void {
    const ac = new AbortController();
    let last = o.since;
    const run = async () => {
      while (!ac.signal.aborted) {
        try {
          const url = new URL(`${this.endpoint}/v1/events`);
          if (o.kind) url.searchParams.set('kind', o.kind);
          if (o.allProjects) url.searchParams.set('allProjects', 'true');
          if (last !== undefined) url.searchParams.set('since', String(last));
          const headers: Record<string, string> = { accept: 'text/event-stream' };
          if (this.token) headers.authorization = `Bearer ${this.token}`;
          if (this.project) headers['x-yun-project'] = this.project;
          const res = await this.f(url, { headers, signal: ac.signal });
          if (!res.ok || !res.body) throw new Error(`watch failed: ${res.status}`);
          const dec = new TextDecoder();
          let buf = '';
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buf += dec.decode(chunk, { stream: true });
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let id: number | undefined;
              let data = '';
              for (const line of block.split('\n')) {
                if (line.startsWith('id: ')) id = Number(line.slice(4));
                else if (line.startsWith('data: ')) data += line.slice(6);
              }
              if (id !== undefined && data) {
                last = id;
                const d = JSON.parse(data) as Omit<WatchEvent, 'id'>;
                onEvent({ id, ...d });
              }
            }
          }
        } catch {
          if (ac.signal.aborted) return;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    void run();
    return () => ac.abort();
  }
}
