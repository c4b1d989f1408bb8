import { useEffect, useState } from 'react';
import type { WatchEvent } from '../../../src/sdk/client.ts';
import type { HostSpec, HostStatus } from '../../../src/scheduler/hosts.ts';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { BarChart, Sparkline } from '../chart.tsx';
import { YunApiError } from '../../../src/sdk/client.ts';
import { useAsync, useLiveList } from '../hooks.ts';
import { Link } from '../router.tsx';
import { ErrorBox, Meter, State, ago } from '../ui.tsx';

interface Amounts { cpus: number; memoryMb: number; diskGb: number }
interface PoolSummary { name: string; hosts: number; capacity: Amounts; allocatable: Amounts; allocated: Amounts & { instances: number } }

/**
 * One request per widget: health (/healthz + /readyz), hosts, pools, usage, quotas (which
 * carry the resource counts), instances (kept live), and the event stream.
 */
export function Dashboard() {
  const { client, hub, me, has } = useApp();
  const health = useAsync(async () => {
    const [h, r] = await Promise.all([fetch('/healthz'), fetch('/readyz')]);
    return { api: h.ok, store: r.ok };
  }, []);
  const hosts = useAsync(() => client.resource<HostSpec, HostStatus>('hosts').listAll(), [client]);
  const quotas = useAsync(() => client.quotas.show(), [client]);
  // `/v1/pools` (compute's scheduler) knows what is allocated; without compute, hosts give capacity only.
  const poolSummary = useAsync(() => client.request<{ items: PoolSummary[] }>('GET', '/v1/pools').then((r) => r.items, (e) => {
    if (e instanceof YunApiError && e.status === 404) return undefined;
    throw e;
  }), [client]);
  const cost = useAsync(() => (has('/v1/usage')
    ? client.request<{ currency: string; total: string; groups: { key: string; cost: string }[]; forecast?: { month: string; actual: string; forecast: string } }>('GET', '/v1/usage', { query: { groupBy: 'service' } })
    : Promise.resolve(undefined)), [client]);
  const instances = useLiveList<Resource<Record<string, unknown>, { state?: string }>>('instances', 'instance');
  const [events, setEvents] = useState<WatchEvent[]>(() => [...hub.recent]);
  const [perMinute, setPerMinute] = useState<number[]>(() => new Array(30).fill(0));
  useEffect(() => hub.on(undefined, (e) => {
    setEvents((l) => [e, ...l].slice(0, 12));
    setPerMinute((p) => { const c = [...p]; c[c.length - 1]! += 1; return c; });
  }), [hub]);
  useEffect(() => {
    const t = setInterval(() => setPerMinute((p) => [...p.slice(1), 0]), 60_000);
    return () => clearInterval(t);
  }, []);

  const byState = new Map<string, number>();
  for (const i of instances.data ?? []) byState.set(i.status.state ?? 'pending', (byState.get(i.status.state ?? 'pending') ?? 0) + 1);
  const pools = new Map<string, { cpus: number; cpuCap: number; mem: number; memCap: number; n: number; up: number; instances?: number }>();
  for (const p of poolSummary.data ?? []) {
    pools.set(p.name, { cpus: p.allocated.cpus, cpuCap: p.allocatable.cpus, mem: p.allocated.memoryMb, memCap: p.allocatable.memoryMb, n: p.hosts, instances: p.allocated.instances, up: (hosts.data ?? []).filter((h) => h.spec.pool === p.name && h.status.state === 'up').length });
  }
  if (!poolSummary.loading && !poolSummary.data) for (const h of hosts.data ?? []) {
    const p = pools.get(h.spec.pool) ?? { cpus: 0, cpuCap: 0, mem: 0, memCap: 0, n: 0, up: 0 };
    p.n++;
    if (h.status.state === 'up') p.up++;
    p.cpus += h.status.allocated?.cpus ?? 0;
    p.cpuCap += h.spec.capacity.cpus * h.spec.overcommit.cpu;
    p.mem += h.status.allocated?.memoryMb ?? 0;
    p.memCap += h.spec.capacity.memoryMb * h.spec.overcommit.ram;
    pools.set(h.spec.pool, p);
  }

  return (
    <div className="dashboard">
      <div className="page-head"><h1>Dashboard</h1><span className="muted">project <strong data-testid="current-project">{me.project}</strong></span></div>
      <div className="grid">
        <section className="card" aria-labelledby="h-health">
          <h2 id="h-health">Service health</h2>
          <ErrorBox error={health.error} />
          <ul className="plain">
            <li>API <State state={health.data ? (health.data.api ? 'up' : 'down') : undefined} /></li>
            <li>State store <State state={health.data ? (health.data.store ? 'up' : 'down') : undefined} /></li>
            {(hosts.data ?? []).map((h) => <li key={h.id}>Host {h.name} <State state={h.status.state} /> <span className="muted">{ago(h.status.lastHeartbeat)}</span></li>)}
          </ul>
        </section>
        <section className="card" aria-labelledby="h-cap">
          <h2 id="h-cap">Capacity by pool</h2>
          <ErrorBox error={hosts.error ?? poolSummary.error} />
          {[...pools].map(([name, p]) => (
            <div key={name} className="pool">
              <h3>{name} <span className="muted">{p.up}/{p.n} hosts up</span></h3>
              <Meter label="vCPU" used={p.cpus} total={p.cpuCap} unit="vCPU" />
              {p.instances !== undefined ? <p className="muted">{p.instances} instances placed</p> : null}
              <Meter label="Memory" used={Math.round(p.mem / 1024 * 10) / 10} total={Math.round(p.memCap / 1024 * 10) / 10} unit="GiB" />
            </div>
          ))}
        </section>
        <section className="card" aria-labelledby="h-counts">
          <h2 id="h-counts">Resources in {me.project}</h2>
          <ErrorBox error={quotas.error} />
          <table className="compact" aria-label="Resource counts">
            <tbody>
              {(quotas.data?.items ?? []).map((q) => (
                <tr key={q.resource} data-resource={q.resource}><th scope="row">{q.resource}</th><td className="num">{q.used}</td><td className="muted num">{q.limit < 0 ? 'no limit' : `of ${q.limit}`}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        {cost.data || cost.error ? (
          <section className="card" aria-labelledby="h-cost">
            <h2 id="h-cost"><Link to="/cost">Cost</Link> this month</h2>
            <ErrorBox error={cost.error} />
            {cost.data ? (
              <>
                <p className="big" data-testid="cost-mtd">{Number(cost.data.forecast?.actual ?? cost.data.total).toFixed(2)} {cost.data.currency}</p>
                {cost.data.forecast ? <p className="muted">forecast for {cost.data.forecast.month}: {Number(cost.data.forecast.forecast).toFixed(2)} {cost.data.currency}</p> : null}
                {cost.data.groups.length ? <BarChart title="by service" bars={cost.data.groups.map((g) => ({ label: g.key, value: Math.round(Number(g.cost) * 100) / 100 }))} height={90} /> : null}
              </>
            ) : null}
          </section>
        ) : null}
        <section className="card" aria-labelledby="h-inst">
          <h2 id="h-inst"><Link to="/instances">Instances</Link> by state</h2>
          <ErrorBox error={instances.error} />
          {instances.data && instances.data.length
            ? <BarChart title={`${instances.data.length} instances`} bars={[...byState].map(([label, value]) => ({ label, value, tone: label }))} />
            : <p className="muted">No instances yet.</p>}
        </section>
        <section className="card wide" aria-labelledby="h-events">
          <h2 id="h-events">Recent events <span className="muted">(live)</span></h2>
          <Sparkline title="events per minute, last 30 minutes" points={perMinute} />
          <ol className="events" aria-live="polite" data-testid="events">
            {events.length ? events.map((e) => (
              <li key={e.id}><span className={`ev ${e.type}`}>{e.type.toLowerCase()}</span> {e.kind} <strong>{e.object.name}</strong>{' '}
                <State state={(e.object.status as { state?: string }).state} /> <span className="muted">#{e.id}</span></li>
            )) : <li className="muted">Waiting for changes in this project…</li>}
          </ol>
        </section>
      </div>
    </div>
  );
}
