/**
 * `yun loadtest shop --rps 500 --duration 30s` — open-loop HTTP load at a
 * fixed rate (or `--concurrency N`, closed loop) against the app's router
 * URL, loopback only. Prints throughput, errors, latency percentiles, a
 * per-second timeline, and the scale events the load caused.
 */
import type { Command } from 'commander';
import { type LoadReport, runLoad } from '../../monitor/loadgen.ts';
import { parseDuration } from '../../monitor/query.ts';
import { AutoscaleApi, type PolicyStatus } from '../../sdk/autoscale.ts';
import type { YunClient } from '../../sdk/client.ts';
import type { CliEnv } from '../env.ts';

const pos = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`${name} must be a positive number, got '${v}'`);
  return n;
};

/** The router URL of an app and the Host header to send. */
export async function appTarget(c: YunClient, app: string, path = '/'): Promise<{ url: string; host: string }> {
  const a = await c.request<{ status: { url?: string } }>('GET', `/v1/apps/${encodeURIComponent(app)}`);
  if (!a.status.url) throw new Error(`app '${app}' has no router URL yet`);
  const u = new URL(a.status.url);
  return { url: `http://127.0.0.1:${u.port || 80}${path}`, host: u.host };
}

/** Scale events of the app's policies between two times. */
export async function scaleEventsBetween(c: YunClient, app: string, from: string, to: string) {
  const out: { at: string; from: number; to: number; reason: string; metrics: string }[] = [];
  for (const plural of ['autoscalers', 'app-autoscalers']) {
    const r = await c.request<{ status: PolicyStatus }>('GET', `/v1/${plural}/${encodeURIComponent(app)}`).catch(() => undefined);
    for (const e of r?.status.events ?? []) if (e.at >= from && e.at <= to) out.push({ at: e.at, from: e.from, to: e.to, reason: e.reason, metrics: e.metrics.map((m) => `${m.type}=${m.value ?? '?'}/${m.target}`).join(' ') });
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

export function registerLoadtestCommands(program: Command, env: CliEnv): void {
  program.command('loadtest <app>').description('drive HTTP load at an app through the router (loopback only) and report what it caused')
    .option('--rps <n>', 'open loop: requests per second', pos('--rps')).option('--concurrency <n>', 'closed loop: parallel clients', pos('--concurrency'))
    .option('--duration <duration>', 'e.g. 30s', '30s').option('--path <path>', 'request path', '/').option('--settle <duration>', 'wait after the load for scale events', '5s')
    .action(async (app: string, o: { rps?: number; concurrency?: number; duration: string; path: string; settle: string }) => {
      const durationMs = parseDuration(o.duration);
      if (!durationMs) throw new Error(`--duration: '${o.duration}' is not a duration`);
      if (!o.rps && !o.concurrency) o.rps = 50;
      const c = await env.client();
      const t = await appTarget(c, app, o.path);
      const quiet = env.format() !== 'table';
      const report: LoadReport = await runLoad({
        url: t.url, host: t.host, rps: o.rps, concurrency: o.concurrency, durationMs,
        onSecond: quiet ? undefined : (s) => process.stderr.write(`  t+${String(s.second).padStart(3)}s  sent ${String(s.sent).padStart(5)}  ok ${String(s.ok).padStart(5)}  errors ${String(s.errors).padStart(4)}  p95 ${s.p95Ms} ms\n`),
      });
      await new Promise((r) => setTimeout(r, parseDuration(o.settle) ?? 0));
      const events = await scaleEventsBetween(c, app, report.startedAt, new Date().toISOString());
      const replicas = await new AutoscaleApi(c).query(`app_replicas{app="${app}"}`, { since: report.startedAt, step: '1s' }).catch(() => undefined);
      const rs = replicas?.result[0]?.values.map((v) => v[1]) ?? [];
      const out = { ...report, scaleEvents: events, replicas: rs.length ? { start: rs[0], max: Math.max(...rs), end: rs.at(-1) } : undefined };
      if (quiet) return env.out(out);
      env.out({
        target: `${t.host} via ${t.url}`, mode: report.mode === 'open' ? `open loop, ${report.targetRps} rps` : `closed loop, ${report.concurrency} clients`,
        duration: `${report.durationMs} ms`, sent: report.sent, completed: report.completed, errors: report.errors, dropped: report.dropped,
        throughput: `${report.throughputRps} rps`, status: report.statusCounts,
        latency: `p50 ${report.latencyMs.p50} · p90 ${report.latencyMs.p90} · p95 ${report.latencyMs.p95} · p99 ${report.latencyMs.p99} · max ${report.latencyMs.max} ms (from intended send time)`,
        replicas: out.replicas ? `${out.replicas.start} → max ${out.replicas.max} → ${out.replicas.end}` : '(no metrics)',
      });
      process.stdout.write('\nscale events:\n');
      env.out(events.map((e) => ({ ...e, offset: `t+${((Date.parse(e.at) - Date.parse(report.startedAt)) / 1000).toFixed(1)}s` })), ['offset', 'from', 'to', 'reason', 'metrics']);
    });
}
