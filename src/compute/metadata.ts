/**
 * The metadata service, EC2/OpenStack style: `/latest/meta-data/…`,
 * `/latest/user-data`, `/openstack/latest/meta_data.json`,
 * `/openstack/latest/user_data`. A caller is identified either by its source
 * IP (instances with addresses from the network service, reaching
 * 169.254.169.254 through their network) or, in the loopback-only phase, by
 * a per-instance path prefix `/i/<token>/` where the token is an HMAC of the
 * instance id (given to the instance in `YUN_METADATA_URL`). The same
 * document is written into every instance at `/run/yun/meta_data.json`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateKey, writeFileAtomic } from '../core/files.ts';
import type { Logger } from '../core/log.ts';
import { Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import type { Instance } from './instances.ts';

export interface MetadataOptions {
  store: StateStore;
  log: Logger;
  /** Directory for the signing key and the remembered port. */
  dir: string;
  host?: string;
  /** Port to listen on; default: the one used last time (so running instances' URLs stay valid), else a free one. */
  port?: number;
  zone: string;
}

export class MetadataService {
  private key?: Buffer;
  private server?: Server;
  private base = '';

  constructor(private readonly o: MetadataOptions) {}

  async start(): Promise<string> {
    this.key = await loadOrCreateKey(join(this.o.dir, 'metadata.key'));
    const host = this.o.host ?? '127.0.0.1';
    const remembered = Number((await readFile(join(this.o.dir, 'metadata.port'), 'utf8').catch(() => '')).trim()) || 0;
    const server = createServer((req, res) => {
      void this.handle(req.url ?? '/', req.socket.remoteAddress ?? '').then(
        ([code, body, type]) => { res.writeHead(code, { 'content-type': type }); res.end(body); },
        (err) => { this.o.log.warn({ err }, 'metadata request failed'); res.writeHead(500); res.end('internal error\n'); });
    });
    const listen = (port: number) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as { port: number }).port); });
    });
    let port: number;
    try {
      port = await listen(this.o.port ?? remembered);
    } catch (e) {
      if (this.o.port !== undefined) throw e;
      port = await listen(0);
    }
    this.server = server;
    await writeFileAtomic(join(this.o.dir, 'metadata.port'), String(port), 0o644);
    this.base = `http://${host}:${port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
  }

  token(id: string): string {
    return `${id}.${createHmac('sha256', this.key!).update(id).digest('hex').slice(0, 32)}`;
  }

  private verify(token: string): string | undefined {
    const id = token.split('.')[0]!;
    const want = Buffer.from(this.token(id));
    const got = Buffer.from(token);
    return want.length === got.length && timingSafeEqual(want, got) ? id : undefined;
  }

  urlFor(id: string): string {
    return `${this.base}/i/${this.token(id)}/`;
  }

  /** The OpenStack-style document (also written into the instance). */
  async document(r: Instance, addresses: { network: string; ip: string }[] = r.status.addresses ?? []): Promise<Record<string, unknown>> {
    const project = await this.o.store.get<{ name: string }>('SELECT name FROM projects WHERE id = ?', [r.project]).catch(() => undefined);
    const img = r.spec.imageId ? await new Resources(this.o.store).getById(r.spec.imageId) : undefined;
    return {
      uuid: r.id, instance_id: r.id, name: r.name, hostname: r.spec.hostname ?? r.name,
      project_id: r.project, project_name: project?.name ?? r.project, availability_zone: this.o.zone,
      flavor: r.spec.flavor ?? 'custom', size: r.spec.size, image: r.spec.image, image_id: img?.id,
      meta: r.labels, launch_index: 0, network: addresses, has_user_data: Boolean(r.spec.userData),
    };
  }

  private async byAddress(ip: string): Promise<Instance | undefined> {
    const clean = ip.replace(/^::ffff:/, '');
    const rows = await this.o.store.all<{ id: string }>("SELECT id FROM resources WHERE kind = 'instance' AND status LIKE ?", [`%"ip":"${clean.replace(/[%_"]/g, '')}"%`]);
    for (const { id } of rows) {
      const r = await new Resources(this.o.store).getById(id) as Instance | undefined;
      if (r?.status.addresses?.some((a) => a.ip === clean)) return r;
    }
    return undefined;
  }

  /** Answers one request: [status, body, content type]. */
  async handle(url: string, remote: string): Promise<[number, string, string]> {
    const text = 'text/plain; charset=utf-8';
    let path = url.split('?')[0]!;
    let r: Instance | undefined;
    const m = /^\/i\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const id = this.verify(decodeURIComponent(m[1]!));
      if (!id) return [403, 'bad metadata token\n', text];
      r = await new Resources(this.o.store).getById(id) as Instance | undefined;
      path = m[2] ?? '/';
    } else {
      r = await this.byAddress(remote);
    }
    if (r?.kind !== 'instance') return [404, 'no instance for this caller\n', text];
    const doc = await this.document(r);
    const md: Record<string, string> = {
      'instance-id': r.id, hostname: String(doc.hostname), 'local-hostname': String(doc.hostname),
      'instance-type': String(doc.flavor), 'ami-id': String(doc.image_id ?? r.spec.image),
      'local-ipv4': r.status.addresses?.[0]?.ip ?? '', 'placement/availability-zone': this.o.zone,
      'project-id': r.project, 'reservation-id': r.project,
    };
    if (path === '/' || path === '') return [200, 'latest\nopenstack\n', text];
    if (path === '/latest' || path === '/latest/') return [200, 'meta-data/\nuser-data\n', text];
    if (path === '/latest/meta-data' || path === '/latest/meta-data/')
      return [200, `${[...new Set(Object.keys(md).map((k) => (k.includes('/') ? `${k.split('/')[0]}/` : k)))].join('\n')}\n`, text];
    if (path === '/latest/meta-data/placement/') return [200, 'availability-zone\n', text];
    const mm = /^\/latest\/meta-data\/(.+)$/.exec(path);
    if (mm && md[mm[1]!] !== undefined) return [200, md[mm[1]!]!, text];
    if (path === '/latest/user-data' || path === '/openstack/latest/user_data')
      return r.spec.userData ? [200, r.spec.userData, 'application/octet-stream'] : [404, 'no user-data\n', text];
    if (path === '/openstack/latest/meta_data.json') return [200, JSON.stringify(doc), 'application/json'];
    if (path === '/openstack/latest/network_data.json') return [200, JSON.stringify({ addresses: doc.network }), 'application/json'];
    return [404, 'not found\n', text];
  }
}
