/**
 * yun app deploy|list|scale|status|logs|rollback|history|delete, and the
 * Kubernetes-style `yun apply -f`, `yun delete -f`, `yun get KIND`.
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { type AppResource, apps } from '../../sdk/apps.ts';
import type { AppSpec, HealthCheck } from '../../apps/types.ts';
import type { CliEnv } from '../env.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (got '${v}')`);
  return n;
};

function envPairs(list: string[] = []): Record<string, string> | undefined {
  if (!list.length) return undefined;
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env wants NAME=VALUE (got '${kv}')`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Packs a folder as tar.gz with the host's tar (argument array, no shell). */
function packFolder(dir: string): Buffer {
  const r = spawnSync('tar', ['-cz', '--exclude=./node_modules', '--exclude=./.git', '-C', dir, '.'], { maxBuffer: 512 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`cannot pack ${dir}: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

function describeProgress(a: AppResource): string {
  const s = a.status;
  return `${a.name}: ${s.state ?? 'Pending'} revision ${s.currentRevision ?? '?'} ready ${s.readyReplicas ?? 0}/${a.spec.replicas}${s.message ? ` — ${s.message}` : ''}`;
}

async function waitWithProgress(env: CliEnv, name: string, timeoutMs: number): Promise<AppResource> {
  const c = apps(await env.client());
  const tty = env.format() === 'table' && process.stderr.isTTY;
  let last = '';
  const a = await c.waitAvailable(name, {
    timeoutMs,
    onProgress: (x) => {
      const line = describeProgress(x);
      if (line === last) return;
      last = line;
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  }).finally(() => { if (tty) process.stderr.write('\n'); });
  return a;
}

interface DeployOpts {
  name?: string; image?: string; port?: number; replicas?: number; env?: string[]; domain?: string[];
  cpus?: string; memory?: number; flavor?: string; healthPath?: string; healthTcp?: boolean; maxSurge?: string; maxUnavailable?: string;
  wait: boolean; timeout: number; changeCause?: string;
}

const countOpt = (v: string | undefined) => (v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v);

export function registerAppCommands(program: Command, env: CliEnv): void {
  const app = program.command('app').description('apps (PaaS): deploy images or source folders, replicas, rollouts, routing');

  app.command('deploy [dir]').description('deploy a source folder (package.json, requirements.txt/main.py, index.html) or --image; anything after -- is the command')
    .option('--name <name>', 'app name (default: the folder name)')
    .option('--image <image>', 'image from the image store instead of a folder')
    .option('--port <port>', 'port the app listens on', int('port'))
    .option('--replicas <n>', 'number of replicas', int('replicas'))
    .option('--env <NAME=VALUE>', 'environment variable (repeatable)', collect)
    .option('--domain <host>', 'custom domain served by the router (repeatable)', collect)
    .option('--cpus <n>').option('--memory <MiB>', 'memory in MiB', int('memory')).option('--flavor <flavor>')
    .option('--health-path <path>', 'HTTP health check path').option('--health-tcp', 'TCP health check')
    .option('--max-surge <n|%>').option('--max-unavailable <n|%>')
    .option('--change-cause <text>')
    .option('--no-wait', 'return once the revision is recorded')
    .option('--timeout <s>', 'seconds to wait for the rollout', int('timeout'), 300)
    .allowExcessArguments(true)
    .action(async (dirArg: string | undefined, o: DeployOpts, cmd: Command) => {
      const c = apps(await env.client());
      const dash = process.argv.indexOf('--');
      const argv = dash >= 0 ? process.argv.slice(dash + 1) : cmd.args.slice(dirArg ? 1 : 0);
      // `deploy --image x -- httpd …`: commander hands the first word after -- in as the folder.
      const dir = dash >= 0 && dirArg !== undefined && process.argv.indexOf(dirArg, dash) > dash ? undefined : dirArg;
      const name = o.name ?? (dir ? dir.replace(/\/+$/, '').split('/').pop()!.toLowerCase().replace(/[^a-z0-9-]/g, '-') : undefined);
      if (!name) throw new Error('give --name');
      const healthCheck: HealthCheck | undefined = o.healthPath ? { type: 'http', path: o.healthPath } : o.healthTcp ? { type: 'tcp' } : undefined;
      const strategy = o.maxSurge !== undefined || o.maxUnavailable !== undefined ? { ...(o.maxSurge !== undefined ? { maxSurge: countOpt(o.maxSurge) } : {}), ...(o.maxUnavailable !== undefined ? { maxUnavailable: countOpt(o.maxUnavailable) } : {}) } : undefined;
      let a: AppResource;
      if (o.image) {
        if (dir) throw new Error('give a folder or --image, not both');
        const cur = await c.get(name).catch(() => undefined);
        const spec: AppSpec = {
          ...(cur ? cur.spec : {}), image: o.image, port: o.port ?? cur?.spec.port ?? 8080, replicas: o.replicas ?? cur?.spec.replicas ?? 1,
          ...(argv.length ? { command: argv } : {}), ...(envPairs(o.env) ? { env: envPairs(o.env) } : {}),
          ...(o.domain ? { domains: o.domain } : {}), ...(o.flavor ? { flavor: o.flavor } : {}),
          ...(o.cpus ? { cpus: Number(o.cpus), memoryMb: o.memory ?? 128 } : o.memory ? { cpus: 0.25, memoryMb: o.memory } : {}),
          ...(healthCheck ? { healthCheck } : {}), ...(strategy ? { strategy } : {}), ...(o.changeCause ? { changeCause: o.changeCause } : {}),
        };
        delete spec.source;
        a = await c.deployImage(name, spec);
      } else {
        if (!dir) throw new Error('give a folder to deploy, or --image');
        if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new Error(`${dir} is not a folder`);
        const bytes = packFolder(dir);
        process.stderr.write(`uploading ${dir} (${bytes.length} bytes)\n`);
        a = await c.deploySource(name, bytes, { port: o.port, replicas: o.replicas, changeCause: o.changeCause });
        const extra: Partial<AppSpec> = {
          ...(envPairs(o.env) ? { env: envPairs(o.env) } : {}), ...(o.domain ? { domains: o.domain } : {}), ...(healthCheck ? { healthCheck } : {}),
          ...(strategy ? { strategy } : {}), ...(argv.length ? { command: argv } : {}),
        };
        if (Object.keys(extra).length) a = await c.deployImage(name, { ...a.spec, ...extra });
      }
      if (o.wait) a = await waitWithProgress(env, name, o.timeout * 1000);
      env.out({ name: a.name, state: a.status.state, revision: a.status.currentRevision, replicas: a.spec.replicas, ready: a.status.readyReplicas, url: a.status.url });
    });

  app.command('list').action(async () => {
    const items = (await apps(await env.client()).list()).items;
    env.out(items.map((a) => ({ name: a.name, image: a.spec.image ?? `source:${a.spec.source?.runtime}`, replicas: a.spec.replicas, ready: a.status.readyReplicas ?? 0, revision: a.status.currentRevision, state: a.status.state, url: a.status.url })));
  });

  app.command('scale <name> <replicas>').option('--no-wait').option('--timeout <s>', 'seconds', int('timeout'), 300)
    .action(async (name: string, n: string, o: { wait: boolean; timeout: number }) => {
      let a = await apps(await env.client()).scale(name, int('replicas')(n));
      if (o.wait) a = await waitWithProgress(env, name, o.timeout * 1000);
      env.out({ name: a.name, replicas: a.spec.replicas, ready: a.status.readyReplicas, state: a.status.state });
    });

  app.command('status <name>').description('replicas, health, revision, requests/s, p95 latency, errors').action(async (name: string) => {
    const s = await apps(await env.client()).status(name);
    if (env.format() !== 'table') return env.out(s);
    env.out({
      name: s.name, state: s.status.state, message: s.status.message, revision: s.status.currentRevision, replicas: `${s.status.readyReplicas ?? 0}/${s.spec.replicas} ready`,
      url: s.status.url, 'requests/s': s.traffic.requestsPerSecond, 'p50 ms': s.traffic.p50Ms, 'p95 ms': s.traffic.p95Ms, 'errors/s': s.traffic.errorsPerSecond,
    });
    process.stdout.write('\n');
    env.out((s.status.replicaStatus ?? []) as unknown as Record<string, unknown>[], ['name', 'revision', 'state', 'ready', 'address', 'restartCount']);
    if (s.status.lastLog) process.stdout.write(`\nlast log lines:\n${s.status.lastLog}\n`);
  });

  app.command('logs <name>').option('-f, --follow', 'stream until interrupted').option('--since <time>', 'ISO time or seconds ago').option('--tail <bytes>', 'last bytes per replica', int('tail'))
    .action(async (name: string, o: { follow?: boolean; since?: string; tail?: number }) => {
      const c = apps(await env.client());
      if (!o.follow) return void process.stdout.write(await c.logs(name, { since: o.since, tailBytes: o.tail }));
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      await c.logs(name, { follow: true, since: o.since, tailBytes: o.tail, signal: ac.signal, onChunk: (s) => process.stdout.write(s) }).catch((e) => { if (!ac.signal.aborted) throw e; });
    });

  app.command('rollback <name>').option('--revision <n>', 'revision to return to (default: the previous)', int('revision')).option('--no-wait').option('--timeout <s>', 'seconds', int('timeout'), 300)
    .action(async (name: string, o: { revision?: number; wait: boolean; timeout: number }) => {
      let a = await apps(await env.client()).rollback(name, o.revision);
      if (o.wait) a = await waitWithProgress(env, name, o.timeout * 1000);
      env.out({ name: a.name, revision: a.status.currentRevision, state: a.status.state });
    });

  app.command('history <name>').action(async (name: string) => {
    const items = (await apps(await env.client()).history(name)).items;
    env.out(items.map((r) => ({ revision: r.spec.revision, current: r.current ? '*' : '', image: r.status.image ?? r.spec.template.image, state: r.status.state, created: r.createdAt, cause: r.spec.changeCause ?? '' })));
  });

  app.command('delete <name>').action(async (name: string) => {
    await apps(await env.client()).delete(name);
    env.out({ deleting: name });
  });

  const readManifest = async (f: string) => (f === '-' ? await new Promise<string>((ok) => { let s = ''; process.stdin.on('data', (c) => { s += c; }).on('end', () => ok(s)); }) : readFile(f, 'utf8'));
  const showApply = (r: Awaited<ReturnType<ReturnType<typeof apps>['apply']>>) => {
    for (const w of r.warnings) process.stderr.write(`warning: document ${w.document} ${w.path}: ${w.message}\n`);
    env.out(r.results.map((x) => ({ kind: x.kind, name: x.name, action: x.action, as: x.yunKind })));
  };
  program.command('apply').description('apply Kubernetes YAML: Deployment, Service, HorizontalPodAutoscaler, ConfigMap, Secret, Namespace')
    .requiredOption('-f, --filename <file>', 'manifest file (- for stdin)').option('--dry-run', 'validate and show what would change')
    .action(async (o: { filename: string; dryRun?: boolean }) => showApply(await apps(await env.client()).apply(await readManifest(o.filename), o.filename, o.dryRun)));
  program.command('delete').description('delete what a Kubernetes manifest names')
    .requiredOption('-f, --filename <file>', 'manifest file (- for stdin)')
    .action(async (o: { filename: string }) => showApply(await apps(await env.client()).deleteManifest(await readManifest(o.filename), o.filename)));

  // biome-ignore lint/suspicious/noExplicitAny: each row reads its own kind's resource shape
  type Listed = Record<string, any>;
  const GET: Record<string, { plural: string; row: (r: Listed) => Record<string, unknown> }> = {
    deployments: { plural: 'apps', row: (a) => ({ name: a.name, ready: `${a.status.readyReplicas ?? 0}/${a.spec.replicas}`, 'up-to-date': a.status.updatedReplicas ?? 0, revision: a.status.currentRevision, state: a.status.state }) },
    apps: { plural: 'apps', row: (a) => ({ name: a.name, replicas: a.spec.replicas, ready: a.status.readyReplicas ?? 0, state: a.status.state, url: a.status.url }) },
    services: { plural: 'app-services', row: (s) => ({ name: s.name, type: s.spec.type, selector: s.spec.selector, ports: (s.spec.ports as { port: number; targetPort?: number }[]).map((p) => `${p.port}:${p.targetPort ?? p.port}`).join(',') }) },
    configmaps: { plural: 'app-configs', row: (c) => ({ name: c.name, keys: Object.keys(c.spec.data).length }) },
    secrets: { plural: 'app-secrets', row: (c) => ({ name: c.name, keys: Object.keys(c.spec.data).length }) },
    hpa: { plural: 'app-autoscalers', row: (h) => ({ name: h.name, target: h.spec.target.name, min: h.spec.minReplicas, max: h.spec.maxReplicas, metrics: (h.spec.metrics as { type: string; target: number }[]).map((m) => `${m.type}:${m.target}`).join(',') }) },
  };
  const alias: Record<string, string> = { deployment: 'deployments', deploy: 'deployments', app: 'apps', service: 'services', svc: 'services', configmap: 'configmaps', cm: 'configmaps', secret: 'secrets', horizontalpodautoscalers: 'hpa', horizontalpodautoscaler: 'hpa' };
  program.command('get <kind>').description(`list ${Object.keys(GET).join('|')}`).action(async (kind: string) => {
    const k = alias[kind.toLowerCase()] ?? kind.toLowerCase();
    const g = GET[k];
    if (!g) throw new Error(`unknown kind '${kind}' (known: ${Object.keys(GET).join(', ')})`);
    const items = await (await env.client()).resource(g.plural).listAll();
    env.out(env.format() === 'table' ? items.map((x) => g.row(x as Listed)) : items);
  });
}
