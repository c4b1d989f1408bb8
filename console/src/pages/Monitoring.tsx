import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { useAsync, useLiveList } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { ErrorBox, Field, FormErrors, PageHead, State, Table, Tabs, ago, useAction } from '../ui.tsx';

/** Shapes of `alarm` (src/monitor/alarms.ts) and `autoscaler` / `app-autoscaler` (src/autoscale/policy.ts, src/apps). */
type Transition = { at: string; from: string; to: string; value?: number; reason: string };
type Alarm = Resource<{ metric: string; above?: number; below?: number; forSeconds?: number; notify?: string[]; description?: string }, {
  state?: string; value?: number; stateSince?: string; evaluatedAt?: string; history?: Transition[];
  lastNotification?: { at: string; target: string; ok: boolean; attempts: number; error?: string };
}>;
type ScaleEvent = { at: string; from: number; to: number; reason: string; metrics: { type: string; value?: number; target: number }[] };
type PolicyStatus = { state?: string; currentReplicas?: number; desiredReplicas?: number; lastScaleTime?: string; message?: string; activeSchedule?: string; events?: ScaleEvent[] };
type Policy = Resource<{ target: string; minReplicas: number; maxReplicas: number; metrics: { type: string; target: number }[] }, PolicyStatus>;
type AppPolicy = Resource<{ target: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { type: string; target: number }[] }, PolicyStatus>;
type Decision = { policy: string; kind: string; target: string; at: string; current: number; desired: number; recommended: number; min: number; max: number; reason: string };

/** One row for both policy kinds: `autoscaler` (app/x or group/x) and an app's HPA (`app-autoscaler`). */
interface Row { key: string; kind: 'autoscaler' | 'app-autoscaler'; name: string; target: string; min: number; max: number; metrics: string; status: PolicyStatus }

const condition = (a: Alarm) => `${a.spec.above !== undefined ? `> ${a.spec.above}` : `< ${a.spec.below}`}${a.spec.forSeconds ? ` for ${a.spec.forSeconds}s` : ''}`;

export function Monitoring({ tab, item }: { tab: string; item?: string }) {
  const { has } = useApp();
  const scaling = has('/v1/autoscalers') || has('/v1/app-autoscalers');
  const tabs = [{ id: 'alarms', label: 'Alarms' }, ...(scaling ? [{ id: 'autoscalers', label: 'Autoscalers' }] : [])];
  return (
    <div>
      <PageHead title="Monitoring" />
      <Tabs tabs={tabs} current={tab} onSelect={(t) => navigate(`/monitoring/${t}`)} />
      <div role="tabpanel">
        {tab === 'autoscalers' && scaling ? <Autoscalers selected={item} /> : <Alarms selected={item} />}
      </div>
    </div>
  );
}

function Alarms({ selected }: { selected?: string }) {
  const { client, canWrite } = useApp();
  const list = useLiveList<Alarm>('alarms', 'alarm');
  const names = useAsync(() => client.request<{ items: string[] }>('GET', '/v1/metrics/names'), [client]);
  const [f, setF] = useState({ name: '', metric: '', op: 'above' as 'above' | 'below', threshold: '', forSeconds: '0', webhook: '' });
  const act = useAction();
  const del = useAction();
  const current = list.data?.find((a) => a.name === selected);
  const create = () => act.run(async () => {
    const spec: Record<string, unknown> = { metric: f.metric, [f.op]: Number(f.threshold), forSeconds: Number(f.forSeconds || 0) };
    if (f.webhook.trim()) spec.notify = [`webhook:${f.webhook.trim()}`];
    await client.resource('alarms').create(f.name, spec);
    setF({ ...f, name: '' });
  });
  return (
    <>
      <section className="card" aria-labelledby="h-alarms">
        <h2 id="h-alarms">Alarms</h2>
        <ErrorBox error={list.error ?? del.error} />
        <Table label="Alarms" rows={list.data ?? []} rowKey={(a) => a.name} empty="No alarms in this project."
          cols={[
            { title: 'Name', cell: (a) => <Link to={`/monitoring/alarms/${encodeURIComponent(a.name)}`} aria-current={a.name === selected ? 'true' : undefined}>{a.name}</Link> },
            { title: 'State', cell: (a) => <State state={a.status.state ?? 'INSUFFICIENT_DATA'} /> },
            { title: 'Metric', cell: (a) => <code>{a.spec.metric}</code> },
            { title: 'Condition', cell: condition },
            { title: 'Value', cell: (a) => (a.status.value === undefined ? '—' : String(a.status.value)), className: 'num' },
            { title: 'Since', cell: (a) => ago(a.status.stateSince) },
            { title: 'Changes', cell: (a) => String(a.status.history?.length ?? 0), className: 'num' },
            ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (a: Alarm) => <button type="button" className="small ghost" disabled={del.busy} onClick={() => { if (confirm(`Delete alarm ${a.name}?`)) void del.run(() => client.resource('alarms').delete(a.name)); }}>Delete</button> }] : []),
          ]} />
        {canWrite ? (
          <form className="inline" aria-label="Create an alarm" onSubmit={(e) => { e.preventDefault(); void create(); }}>
            <FormErrors error={act.error}>
              <Field label="Alarm name" name="name">{(id, a) => <input id={id} {...a} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} required />}</Field>
              <Field label="Metric query" name="metric" hint="e.g. cpu_percent or avg(rate(cpu_usage[1m]))">{(id, a) => (
                <>
                  <input id={id} {...a} list={`${id}-names`} value={f.metric} onChange={(e) => setF({ ...f, metric: e.target.value })} required />
                  <datalist id={`${id}-names`}>{(names.data?.items ?? []).map((n) => <option key={n} value={n} />)}</datalist>
                </>
              )}</Field>
              <Field label="When">{(id) => <select id={id} value={f.op} onChange={(e) => setF({ ...f, op: e.target.value as 'above' | 'below' })}><option value="above">above</option><option value="below">below</option></select>}</Field>
              <Field label="Threshold" name={f.op}>{(id, a) => <input id={id} {...a} type="number" step="any" value={f.threshold} onChange={(e) => setF({ ...f, threshold: e.target.value })} required />}</Field>
              <Field label="For (seconds)" name="forSeconds">{(id, a) => <input id={id} {...a} type="number" min={0} value={f.forSeconds} onChange={(e) => setF({ ...f, forSeconds: e.target.value })} />}</Field>
              <Field label="Webhook (optional)" name="notify">{(id, a) => <input id={id} {...a} value={f.webhook} onChange={(e) => setF({ ...f, webhook: e.target.value })} placeholder="http://…" />}</Field>
            </FormErrors>
            <button type="submit" disabled={act.busy}>Create alarm</button>
          </form>
        ) : null}
        <ErrorBox error={act.error} />
      </section>
      {current ? <AlarmHistory a={current} /> : selected && list.data ? <p className="muted">No alarm named {selected}.</p> : null}
    </>
  );
}

function AlarmHistory({ a }: { a: Alarm }) {
  const rows = [...(a.status.history ?? [])].reverse();
  const n = a.status.lastNotification;
  return (
    <section className="card" aria-labelledby="h-alarm-history">
      <h2 id="h-alarm-history">History of {a.name}</h2>
      <p className="muted">{a.spec.description ?? ''} Evaluated {ago(a.status.evaluatedAt)}; state changes are kept (last 50).</p>
      <Table label="Alarm history" rows={rows} rowKey={(t) => `${t.at}-${t.to}`} empty="No state changes yet."
        cols={[
          { title: 'At', cell: (t) => new Date(t.at).toLocaleString() },
          { title: 'Change', cell: (t) => <span data-change={`${t.from}>${t.to}`}>{t.from} → <State state={t.to} /></span> },
          { title: 'Value', cell: (t) => (t.value === undefined ? '—' : String(t.value)), className: 'num' },
          { title: 'Reason', cell: (t) => t.reason },
        ]} />
      {n ? <p className={n.ok ? 'muted' : 'note'}>Last notification to {n.target} {ago(n.at)}: {n.ok ? 'delivered' : `failed after ${n.attempts} attempts (${n.error ?? 'error'})`}.</p> : null}
    </section>
  );
}

/** Lists both policy kinds (each only when its API is there); a policy is selected as `<kind>:<name>`. */
function Autoscalers({ selected }: { selected?: string }) {
  const { client, has } = useApp();
  const own = has('/v1/autoscalers');
  const hpa = has('/v1/app-autoscalers');
  const a = useLiveList<Policy>(own ? 'autoscalers' : undefined, 'autoscaler');
  const b = useLiveList<AppPolicy>(hpa ? 'app-autoscalers' : undefined, 'app-autoscaler');
  const decisions = useAsync(() => (own ? client.request<{ items: Decision[] }>('GET', '/v1/autoscale/decisions') : Promise.resolve({ items: [] })), [client, own, selected]);
  const metrics = (m: { type: string; target: number }[]) => m.map((x) => `${x.type} ${x.target}`).join(', ') || '—';
  const rows: Row[] = [
    ...(a.data ?? []).map((p) => ({ key: `autoscaler:${p.name}`, kind: 'autoscaler' as const, name: p.name, target: p.spec.target, min: p.spec.minReplicas, max: p.spec.maxReplicas, metrics: metrics(p.spec.metrics), status: p.status })),
    ...(b.data ?? []).map((p) => ({ key: `app-autoscaler:${p.name}`, kind: 'app-autoscaler' as const, name: p.name, target: `${p.spec.target.kind}/${p.spec.target.name}`, min: p.spec.minReplicas, max: p.spec.maxReplicas, metrics: metrics(p.spec.metrics), status: p.status })),
  ];
  const current = rows.find((r) => r.key === selected);
  const decision = current && decisions.data?.items.find((d) => d.kind === current.kind && d.policy === current.name);
  return (
    <>
      <section className="card" aria-labelledby="h-policies">
        <h2 id="h-policies">Autoscaling policies</h2>
        <ErrorBox error={a.error ?? b.error} />
        <Table label="Autoscalers" rows={rows} rowKey={(r) => r.key} empty="No autoscaling policies in this project."
          cols={[
            { title: 'Name', cell: (r) => <Link to={`/monitoring/autoscalers/${encodeURIComponent(r.key)}`}>{r.name}</Link> },
            { title: 'Kind', cell: (r) => (r.kind === 'autoscaler' ? 'policy' : 'app HPA') },
            { title: 'Target', cell: (r) => r.target },
            { title: 'State', cell: (r) => <State state={r.status.state ?? 'Active'} /> },
            { title: 'Replicas', cell: (r) => `${r.status.currentReplicas ?? '—'} (${r.min}–${r.max})`, className: 'num' },
            { title: 'Metrics', cell: (r) => r.metrics },
            { title: 'Scale events', cell: (r) => String(r.status.events?.length ?? 0), className: 'num' },
            { title: 'Last scale', cell: (r) => ago(r.status.lastScaleTime) },
          ]} />
      </section>
      {current ? (
        <section className="card" aria-labelledby="h-scale-history">
          <h2 id="h-scale-history">Scaling history of {current.name}</h2>
          {current.status.message ? <p className="note">{current.status.message}</p> : null}
          {decision ? <p data-testid="last-decision">Last decision {ago(decision.at)}: {decision.current} → {decision.desired} replicas (recommended {decision.recommended}, bounds {decision.min}–{decision.max}). {decision.reason}</p> : null}
          <Table label="Scaling history" rows={[...(current.status.events ?? [])].reverse()} rowKey={(e) => `${e.at}-${e.to}`} empty="No scale events yet (the last 30 are kept)."
            cols={[
              { title: 'At', cell: (e) => new Date(e.at).toLocaleString() },
              { title: 'Replicas', cell: (e) => `${e.from} → ${e.to}` },
              { title: 'Metrics', cell: (e) => e.metrics.map((m) => `${m.type} ${m.value ?? '?'} / ${m.target}`).join(', ') || '—' },
              { title: 'Reason', cell: (e) => e.reason },
            ]} />
        </section>
      ) : null}
    </>
  );
}
