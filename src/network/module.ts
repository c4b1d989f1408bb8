/**
 * The network service as a ServiceModule: tables, routes, the controller and
 * the InstanceNetworking handed to compute. The driver is chosen at start:
 * linux (bridge + netns + nftables) when root with iproute2 and nftables,
 * else the host fallback, whose status says isolation and security groups
 * are NOT enforced.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { InstanceNetworking, NetworkedInstance, PreparedNetwork } from '../compute/networking.ts';
import type { CloudConfig } from '../core/config.ts';
import { YunError } from '../core/errors.ts';
import type { ServiceModule } from '../services.ts';
import type { Sql } from '../store/types.ts';
import { NetworkController } from './controller.ts';
import { type NetworkDriverKind, openNetworkDriver } from './drivers/index.ts';
import type { NetworkDriver } from './drivers/types.ts';
import type { HostPortPolicy } from './floating-ips.ts';
import { type InstanceIdentity, ServiceInstanceNetworking, validateInstanceNetworking } from './instance-networking.ts';
import { NodeLoadBalancer } from './lb/node.ts';
import type { LoadBalancerDataPlane } from './lb/types.ts';
import { networkMigrations } from './migrations.ts';
import { networkRoutes } from './routes.ts';
import type { CounterSource } from '../metering/sink.ts';
import { Resources } from '../store/resources.ts';
import type { DataOutCounter } from './drivers/types.ts';

const isDataOutCounter = (d: NetworkDriver): d is NetworkDriver & DataOutCounter => typeof (d as Partial<DataOutCounter>).takeDataOut === 'function';

export interface NetworkModuleOptions {
  /** Default `auto`: linux when possible, else host. */
  driver?: NetworkDriverKind | 'auto';
  /** Owner prefix of kernel objects (2-5 chars). Default `yun`. */
  prefix?: string;
  /** Runtime directory of the driver's model. Default `/run/yun/network`. */
  stateDir?: string;
  /** Where 169.254.169.254:80 goes; asked at start (compute's metadata server). */
  metadata?: () => { host: string; port: number } | undefined;
  /** Range for auto-assigned published host ports. Default 20000-29999. */
  hostPortRange?: [number, number];
  /** Periodic resync of the controller. Default 2000 ms. */
  resyncMs?: number;
  /** See ControllerOptions.orphanPortGraceMs. */
  orphanPortGraceMs?: number;
  /** Test hook: a ready driver instead of opening one. */
  openDriver?: () => Promise<NetworkDriver>;
  lb?: LoadBalancerDataPlane;
  /** Metering asks, each pass, for the bytes out of published ports and load balancers. */
  metering?: { addCounterSource(c: CounterSource): () => void };
}

/** Extras of the network service's InstanceNetworking beyond the compute seam. */
export interface InstanceIdentifierService {
  /** Which instance owns a source address (metadata by source IP). */
  identify(sourceIp: string): Promise<InstanceIdentity | undefined>;
  /** Create-time check of `spec.networks`/`spec.securityGroups` inside compute's transaction (400/404 naming the field). */
  validate(q: Sql, project: string, networks?: string[], securityGroups?: string[]): Promise<void>;
}

export interface NetworkModule extends ServiceModule {
  /** Give this to the compute module (`computeModule(config, { networking })`). Usable after start. */
  readonly networking: InstanceNetworking & InstanceIdentifierService;
  readonly controller: () => NetworkController | undefined;
}

async function linuxLikely(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const { access, constants } = await import('node:fs/promises');
  const has = async (cmd: string) => {
    for (const d of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
      try { await access(`${d}/${cmd}`, constants.X_OK); return true; } catch { /* next */ }
    }
    return false;
  };
  return (await has('ip')) && (await has('nft'));
}

export async function networkModule(_config: CloudConfig, o: NetworkModuleOptions = {}): Promise<NetworkModule> {
  const expectLinux = o.driver === 'linux' || (o.driver !== 'host' && await linuxLikely());
  let ctl: NetworkController | undefined;
  let impl: ServiceInstanceNetworking | undefined;
  const ready = () => {
    if (!impl) throw new YunError('Unavailable', 'the network service has not started');
    return impl;
  };
  const networking: InstanceNetworking & InstanceIdentifierService = {
    get name() { return impl?.name ?? (expectLinux ? 'linux' : 'host'); },
    prepare: (i: NetworkedInstance): Promise<PreparedNetwork> => ready().prepare(i),
    release: (i: NetworkedInstance) => ready().release(i),
    identify: (ip: string) => ready().identify(ip),
    validate: (q, project, networks, securityGroups) => validateInstanceNetworking(q, project, networks, securityGroups),
    setSecurityGroups: (q, project, instanceId, securityGroups) => ready().setSecurityGroups(q, project, instanceId, securityGroups),
  };
  const lb = o.lb ?? new NodeLoadBalancer();
  let unmeter: (() => void) | undefined;
  return {
    name: 'network',
    migrations: networkMigrations,
    networking,
    controller: () => ctl,
    async routes(app: FastifyInstance, ctx: ApiContext) {
      const range = o.hostPortRange ?? [20000, 29999];
      const policy: HostPortPolicy = { range, get reserved() { return [ctx.config.apiPort, ctx.config.s3Port, ctx.config.routerPort]; } };
      await networkRoutes(app, ctx, policy);
    },
    async start(ctx) {
      const driver = o.openDriver ? await o.openDriver() : await openNetworkDriver(o.driver ?? 'auto', {
        linux: { prefix: o.prefix, stateDir: o.stateDir, metadata: o.metadata?.() },
      });
      ctl = new NetworkController({ store: ctx.store, bus: ctx.bus, driver, lb, log: ctx.log.child({ service: 'network' }), resyncMs: o.resyncMs, orphanPortGraceMs: o.orphanPortGraceMs });
      try {
        await ctl.start();
      } catch (e) {
        await ctl.stop().catch(() => undefined);
        ctl = undefined;
        throw e;
      }
      impl = new ServiceInstanceNetworking(ctx.store, ctx.identity, ctl);
      const res = new Resources(ctx.store);
      // bytes out of published ports (kernel counters) and load balancers (their client sockets)
      unmeter = o.metering?.addCounterSource(async (sink) => {
        const counts = [isDataOutCounter(driver) ? await driver.takeDataOut() : {}, lb.takeDataOut?.() ?? {}];
        for (const [id, bytes] of counts.flatMap((c) => Object.entries(c))) {
          const r = await res.getById(id);
          if (r && bytes > 0) sink.dataOut(r.project, { id: r.id, kind: r.kind, name: r.name }, bytes);
        }
      });
      const c = driver.capabilities;
      ctx.log.info({ driver: c.kind, isolation: c.isolation, securityGroupsEnforced: c.securityGroupsEnforced, notes: c.notes }, 'network service started');
    },
    async stop() {
      unmeter?.();
      unmeter = undefined;
      impl = undefined;
      await ctl?.stop();
      ctl = undefined;
    },
    describe() {
      const c = ctl?.driver.capabilities;
      const kind = c?.kind ?? (expectLinux ? 'linux' : 'host');
      const enforced = c ? c.securityGroupsEnforced : expectLinux;
      const sg = !enforced ? 'NOT enforced' : c ? 'enforced (nftables, stateful)' : 'enforced (nftables, stateful) if br_netfilter loads at start';
      return {
        'network driver': kind === 'linux'
          ? 'linux: bridge per network, netns + veth per container, tap per VM NIC, nftables security groups, DNS <instance>.<network>.internal'
          : 'host (not root or no ip/nft): instances share the host network — NO isolation, security groups NOT enforced, no DNS, no metadata address',
        'security groups': sg,
        'load balancer': `${lb.capabilities.kind}: ${lb.capabilities.protocols.join('/')} listeners, ${lb.capabilities.algorithms.join(', ')}`,
        ...(c?.notes.length ? { 'network notes': c.notes.join('; ') } : {}),
      };
    },
  };
}

/**
 * The loopback address the metadata DNAT (169.254.169.254:80) points at, to
 * be given to BOTH the network module and compute's metadata server
 * (`computeModule(config, { metadataPort })`): the port compute remembered
 * under `<home>/compute/metadata.port`, else a port free right now.
 */
export async function metadataTarget(config: CloudConfig): Promise<{ host: string; port: number }> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const remembered = Number((await readFile(join(config.home, 'compute', 'metadata.port'), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(remembered) && remembered > 0 && remembered < 65536) return { host: '127.0.0.1', port: remembered };
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  return { host: '127.0.0.1', port };
}
