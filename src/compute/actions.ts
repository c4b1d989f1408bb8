/**
 * Instance action routes: start, stop, reboot, resize, rebuild (each a
 * declarative state guard, refused with 409 before any side effect, then a
 * spec change the controller acts on), and the live views: console logs
 * (optionally followed), exec, stats.
 */
import { open, stat } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { ResourceCallContext } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { Scope } from '../identity/types.ts';
import type { Scheduler } from '../scheduler/placement.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { liveResizeBlocker } from './drivers/resize.ts';
import { type ComputeCapabilities, type ComputeDriver, isExecable, isLiveResizable } from './drivers/types.ts';
import type { ImageService } from './images-service.ts';
import { type Instance, quotaOf, sizeOf } from './instances.ts';
import type { InstanceSpec, InstanceState } from './types.ts';

export interface ActionDeps {
  driver: ComputeDriver;
  caps: () => ComputeCapabilities | undefined;
  scheduler: Scheduler;
  images: ImageService;
  hostId: () => string | undefined;
}

/** Which states each action may start from (Nova's check_instance_state, as data). */
export const ALLOWED: Record<string, InstanceState[]> = {
  start: ['stopped', 'exited', 'OOMKilled'],
  stop: ['running', 'starting', 'scheduled', 'exited', 'OOMKilled'],
  reboot: ['running', 'exited', 'OOMKilled'],
  resize: ['running', 'stopped', 'exited', 'OOMKilled', 'scheduled'],
  rebuild: ['running', 'stopped', 'exited', 'OOMKilled', 'error'],
  exec: ['running'],
};

export function guard(r: Instance, action: string): void {
  const state = r.status.state ?? 'pending';
  if (r.deletionTimestamp) throw new YunError('InvalidState', `cannot ${action} instance '${r.name}': it is being deleted`);
  if (!ALLOWED[action]!.includes(state as InstanceState))
    throw new YunError('InvalidState', `cannot ${action} instance '${r.name}' while it is ${state} (allowed from: ${ALLOWED[action]!.join(', ')})`, { details: { state, action } });
}

const Params = Type.Object({ name: Type.String({ maxLength: 128 }) });
const ResizeBody = Type.Object({
  flavor: Type.Optional(Type.String({ maxLength: 63 })), cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 16 })), allowRestart: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const RebuildBody = Type.Object({ image: Type.Optional(Type.String({ maxLength: 63 })) }, { additionalProperties: false });
const ExecBody = Type.Object({
  command: Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 4096 }),
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String())),
  stdin: Type.Optional(Type.String({ maxLength: 1 << 20 })), timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
}, { additionalProperties: false });

export function actionRoutes(app: FastifyInstance, ctx: ApiContext, deps: ActionDeps): void {
  const authorize = async (req: FastifyRequest, verb: string): Promise<{ scope: Scope; name: string }> => {
    const { name } = req.params as { name: string };
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `compute:${verb}Instance`, ctx.authz.resourceName('compute', scope.project.id, `instance/${name}`), { 'yun:SourceIp': req.ip });
    return { scope, name };
  };
  const load = async (scope: Scope, name: string, q: Sql = ctx.store) => new Resources(q).require('instance', scope.project.id, name) as Promise<Instance>;
  const change = async (req: FastifyRequest, action: string, verb: string, mutate: (r: Instance, q: Sql, c: ResourceCallContext) => Promise<InstanceSpec>) => {
    const { scope, name } = await authorize(req, verb);
    const r = await ctx.store.tx(async (q) => {
      const cur = await load(scope, name, q);
      guard(cur, action);
      const c: ResourceCallContext = { q, scope, principal: req.principal!, resources: new Resources(q) };
      const spec = await mutate(cur, q, c);
      return new Resources(q).updateSpec(cur, { spec });
    });
    ctx.bus.poke();
    return r;
  };
  type Mutate = (r: Instance, q: Sql, c: ResourceCallContext, body: unknown) => Promise<InstanceSpec>;
  const action = (a: string, verb: string, body: ReturnType<typeof Type.Object> | undefined, mutate: Mutate) =>
    app.post(`/instances/:name/actions/${a}`, { schema: { summary: `${verb} an instance`, tags: ['compute'], params: Params, ...(body ? { body } : {}) } },
      async (req, reply) => reply.code(202).send(await change(req, a, verb, (r, q, c) => mutate(r, q, c, req.body))));

  action('start', 'Start', undefined, async (r) => ({ ...r.spec, powerState: 'running', rebootCount: (r.spec.rebootCount ?? 0) + 1 }));
  action('stop', 'Stop', undefined, async (r) => ({ ...r.spec, powerState: 'stopped' }));
  action('reboot', 'Reboot', undefined, async (r) => ({ ...r.spec, powerState: 'running', rebootCount: (r.spec.rebootCount ?? 0) + 1 }));
  action('rebuild', 'Rebuild', RebuildBody, async (r, q, _c, body) => {
    const image = (body as { image?: string } | undefined)?.image ?? r.spec.image;
    const img = await deps.images.resolve(q, r.project, image);
    return { ...r.spec, image, imageId: img.id, rebuildCount: (r.spec.rebuildCount ?? 0) + 1 };
  });

  app.post('/instances/:name/actions/resize', { schema: { summary: 'Resize an instance (live where the driver can)', tags: ['compute'], params: Params, body: ResizeBody } }, async (req, reply) => {
    const b = req.body as { flavor?: string; cpus?: number; memoryMb?: number; allowRestart?: boolean };
    let newAmounts: { cpus: number; memoryMb: number; diskGb: number } | undefined;
    let consumer = '';
    const r = await change(req, 'resize', 'Resize', async (cur, q, c) => {
      // without a flavor, a size left out keeps its current value (resize memory alone, or vCPUs alone)
      const keep = (v: number | undefined, now: number | undefined) => (b.flavor ? v : v ?? now);
      const size = await sizeOf(q, c, { flavor: b.flavor, cpus: keep(b.cpus, cur.spec.size?.vcpus), memoryMb: keep(b.memoryMb, cur.spec.size?.ramMb), diskGb: cur.spec.size?.diskGb });
      if (cur.spec.type === 'vm' && size.diskGb < (cur.spec.size?.diskGb ?? 0)) {
        throw invalid('/flavor', `a VM's root disk is never shrunk: flavor '${b.flavor}' has ${size.diskGb} GB, the instance ${cur.spec.size?.diskGb} GB`);
      }
      if (cur.status.state === 'running' && !b.allowRestart) refuseUnlessLive(cur, { cpus: size.vcpus, memoryMb: size.ramMb }, deps);
      await deps.scheduler.checkResize(q, cur.id, { cpus: size.vcpus, memoryMb: size.ramMb, diskGb: size.diskGb });
      const before = quotaOf(cur.spec.size!);
      const after = quotaOf(size);
      await ctx.identity.consumeQuota(q, cur.project, { vcpus: after.vcpus - before.vcpus, ram_mb: after.ram_mb - before.ram_mb });
      newAmounts = { cpus: size.vcpus, memoryMb: size.ramMb, diskGb: size.diskGb };
      consumer = cur.id;
      const spec: InstanceSpec = { ...cur.spec, size, allowRestart: Boolean(b.allowRestart) };
      delete spec.flavor; delete spec.cpus; delete spec.memoryMb;
      return b.flavor ? { ...spec, flavor: b.flavor } : { ...spec, cpus: size.vcpus, memoryMb: size.ramMb };
    });
    if (newAmounts) deps.scheduler.commitResize(consumer, newAmounts);
    return reply.code(202).send(r);
  });

  app.get('/instances/:name/logs', {
    schema: { summary: 'Console log (stdout and stderr); follow=true streams until the instance stops', tags: ['compute'], params: Params,
      querystring: Type.Object({ follow: Type.Optional(Type.Boolean()), tailBytes: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }) },
  }, async (req, reply) => {
    const { scope, name } = await authorize(req, 'GetConsoleOutputOf');
    const r = await load(scope, name);
    const qs = req.query as { follow?: boolean; tailBytes?: number };
    if (!qs.follow) return reply.type('text/plain; charset=utf-8').send(await deps.driver.readLog(r.id, { tailBytes: qs.tailBytes }).catch(() => ''));
    return followLog(req, reply, deps.driver.logPath(r.id), qs.tailBytes, async () => {
      const cur = await new Resources(ctx.store).getById(r.id) as Instance | undefined;
      return Boolean(cur && ['pending', 'scheduled', 'starting', 'running'].includes(cur.status.state ?? ''));
    });
  });

  app.post('/instances/:name/exec', { schema: { summary: 'Run a command inside a running instance (no shell)', tags: ['compute'], params: Params, body: ExecBody } }, async (req) => {
    const { scope, name } = await authorize(req, 'Exec');
    const r = await load(scope, name);
    guard(r, 'exec');
    if (!isExecable(deps.driver)) throw new YunError('CapabilityMissing', `the ${deps.driver.name} driver cannot exec into instances`);
    const b = req.body as { command: string[]; env?: Record<string, string>; stdin?: string; timeoutMs?: number };
    return deps.driver.exec(r.id, b.command, { env: b.env, stdin: b.stdin, timeoutMs: b.timeoutMs });
  });

  app.get('/instances/:name/stats', { schema: { summary: 'Resource usage: CPU seconds, memory, pids, block I/O', tags: ['compute'], params: Params } }, async (req) => {
    const { scope, name } = await authorize(req, 'GetStatsOf');
    const r = await load(scope, name);
    if (!r.status.hostId || r.status.hostId !== deps.hostId()) throw new YunError('InvalidState', `instance '${name}' has no workload on this host`);
    const s = await deps.driver.stats(r.id);
    return { instance: r.name, id: r.id, at: new Date().toISOString(), ...s };
  });
}

/**
 * A running instance is resized live only when it can take the change so;
 * else 409 before any side effect, naming what needs a restart. A VM's range
 * is in its status (`liveResize`: memory by balloon within its boot size,
 * same vCPU count); containers depend on the driver.
 */
function refuseUnlessLive(r: Instance, want: { cpus: number; memoryMb: number }, deps: ActionDeps): void {
  const range = r.status.liveResize;
  if (range) {
    const blocker = liveResizeBlocker(range, want);
    if (blocker) throw new YunError('InvalidState', `VM '${r.name}' cannot be resized while it runs: ${blocker}; stop it first or pass allowRestart (it is restarted, its disks are kept)`, { details: { needs: 'allowRestart', liveResize: range } });
    return;
  }
  if (r.spec.type === 'vm') throw new YunError('InvalidState', `VM '${r.name}' reports no live resize range yet; stop it first or pass allowRestart`, { details: { needs: 'allowRestart' } });
  const caps = deps.caps();
  if (!isLiveResizable(deps.driver) || (caps && !caps.liveResize))
    throw new YunError('InvalidState', `the ${deps.driver.name} driver cannot resize a running instance live${caps ? ` (${caps.backend})` : ''}; stop it first or pass allowRestart`, { details: { needs: 'allowRestart' } });
}

/** Streams a growing file: what is there (or its tail), then new bytes until `alive` says no or the client leaves. */
async function followLog(req: FastifyRequest, reply: FastifyReply, path: string, tailBytes: number | undefined, alive: () => Promise<boolean>) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  let pos = 0;
  const size = async () => (await stat(path).catch(() => undefined))?.size ?? 0;
  if (tailBytes !== undefined) pos = Math.max(0, (await size()) - tailBytes);
  let closed = false;
  req.raw.on('close', () => { closed = true; });
  let idleChecks = 0;
  while (!closed) {
    const end = await size();
    if (end > pos) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(Math.min(end - pos, 1 << 20));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        pos += bytesRead;
        res.write(buf.subarray(0, bytesRead));
      } finally {
        await fh.close();
      }
      continue;
    }
    if (++idleChecks % 4 === 0 && !(await alive())) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  res.end();
}
