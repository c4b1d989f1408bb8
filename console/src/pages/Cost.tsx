import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { BarChart } from '../chart.tsx';
import { useAsync, useLiveList } from '../hooks.ts';
import { navigate } from '../router.tsx';
import { ErrorBox, Field, PageHead, State, Table, Tabs, useAction } from '../ui.tsx';

interface InvoiceSummary { month: string; state: string; total: string; currency: string; lines: number }
interface Invoice {
  month: string; state: string; currency: string; total: string; periodStart: string; periodEnd: string;
  lines: { service: string; sku: string; description: string; resourceKind: string; resourceName: string; quantity: string; unit: string; amount: string }[];
  subtotals: { service: string; amount: string }[];
}
interface UsageReport { currency: string; total: string; groups: { key: string; cost: string }[]; forecast?: { month: string; actual: string; forecast: string } }
type Budget = Resource<{ amount: string; alerts?: { percent: number; basis?: string }[]; enforce?: string }, { state?: string; actual?: string; forecast?: string; percentActual?: number; percentForecast?: number; currency?: string }>;

const TABS = [
  { id: 'invoices', label: 'Invoices' }, { id: 'explorer', label: 'Cost by service' },
  { id: 'budgets', label: 'Budgets' }, { id: 'estimate', label: 'Estimate' }, { id: 'prices', label: 'Prices' },
];

export function Cost({ tab }: { tab: string }) {
  return (
    <div>
      <PageHead title="Cost" />
      <Tabs tabs={TABS} current={tab} onSelect={(t) => navigate(`/cost/${t}`)} />
      <div role="tabpanel">
        {tab === 'explorer' ? <Explorer /> : tab === 'budgets' ? <Budgets /> : tab === 'estimate' ? <Estimate /> : tab === 'prices' ? <Prices /> : <Invoices />}
      </div>
    </div>
  );
}

/** Cents-level amounts as numbers for charts (the API keeps exact decimals as text). */
const num = (s: string | undefined) => Number.parseFloat(s ?? '0') || 0;
const money = (s: string | undefined, c = '') => `${num(s).toFixed(2)}${c ? ` ${c}` : ''}`;

function Invoices() {
  const { client } = useApp();
  const list = useAsync(() => client.request<{ items: InvoiceSummary[] }>('GET', '/v1/invoices'), [client]);
  const [month, setMonth] = useState<string | undefined>();
  const current = month ?? list.data?.items[0]?.month;
  const inv = useAsync(() => (current ? client.request<Invoice>('GET', `/v1/invoices/${current}`) : Promise.resolve(undefined)), [client, current]);
  const act = useAction();
  const csv = () => act.run(async () => {
    const res = await fetch(`/v1/invoices/${current}?format=csv`, { headers: { authorization: `Bearer ${client.token}`, 'x-yun-project': client.project ?? '' } });
    if (!res.ok) throw new Error(`CSV download failed: HTTP ${res.status}`);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(await res.blob());
    a.download = `invoice-${client.project}-${current}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });
  return (
    <>
      <section className="card">
        <ErrorBox error={list.error} />
        <Table label="Invoices" rows={list.data?.items ?? []} rowKey={(i) => i.month} empty="No usage recorded yet."
          cols={[
            { title: 'Month', cell: (i) => <button type="button" className="ghost small" aria-pressed={i.month === current} onClick={() => setMonth(i.month)}>{i.month}</button> },
            { title: 'State', cell: (i) => <State state={i.state} /> },
            { title: 'Lines', cell: (i) => i.lines, className: 'num' },
            { title: 'Total', cell: (i) => <strong data-testid={`invoice-total-${i.month}`}>{i.total} {i.currency}</strong>, className: 'num' },
          ]} />
      </section>
      {inv.data ? (
        <section className="card" aria-labelledby="h-inv">
          <div className="page-head"><h2 id="h-inv">Invoice {inv.data.month} <span className="muted">{inv.data.state}</span></h2>
            <div className="actions"><button type="button" className="ghost small" onClick={() => void csv()}>Download CSV</button></div></div>
          <ErrorBox error={inv.error ?? act.error} />
          <div className="grid">
            <BarChart title={`by service, ${inv.data.currency}`} bars={inv.data.subtotals.map((s) => ({ label: s.service, value: Math.round(num(s.amount) * 100) / 100 }))} />
          </div>
          <Table label="Invoice lines" rows={inv.data.lines} rowKey={(l) => `${l.sku}:${l.resourceKind}:${l.resourceName}`}
            cols={[
              { title: 'Service', cell: (l) => l.service },
              { title: 'Resource', cell: (l) => `${l.resourceKind} ${l.resourceName}` },
              { title: 'Item', cell: (l) => l.description || l.sku },
              { title: 'Quantity', cell: (l) => `${l.quantity} ${l.unit}`, className: 'num' },
              { title: 'Amount', cell: (l) => l.amount, className: 'num' },
            ]} />
          <p className="total">Total <strong>{inv.data.total} {inv.data.currency}</strong></p>
        </section>
      ) : null}
    </>
  );
}

function Explorer() {
  const { client } = useApp();
  const [groupBy, setGroupBy] = useState('service');
  const r = useAsync(() => client.request<UsageReport>('GET', '/v1/usage', { query: { groupBy } }), [client, groupBy]);
  return (
    <section className="card">
      <Field label="Group by">{(id) => <select id={id} value={groupBy} onChange={(e) => setGroupBy(e.target.value)}><option value="service">service</option><option value="day">day</option><option value="sku">sku</option><option value="resource">resource</option></select>}</Field>
      <ErrorBox error={r.error} />
      {r.data ? (
        <>
          <p>This month so far <strong>{money(r.data.forecast?.actual ?? r.data.total, r.data.currency)}</strong>{r.data.forecast ? <> · forecast for {r.data.forecast.month} <strong>{money(r.data.forecast.forecast, r.data.currency)}</strong></> : null}</p>
          {r.data.groups.length
            ? <BarChart title={`cost by ${groupBy}, ${r.data.currency}`} bars={r.data.groups.map((g) => ({ label: groupBy === 'day' ? g.key.slice(5) : g.key, value: Math.round(num(g.cost) * 100) / 100 }))} />
            : <p className="muted">No usage in this period.</p>}
        </>
      ) : null}
    </section>
  );
}

function Budgets() {
  const { client, canWrite } = useApp();
  const list = useLiveList<Budget>('budgets', 'budget');
  const [f, setF] = useState({ name: '', amount: '50', percent: '80', enforce: 'none' });
  const act = useAction();
  return (
    <section className="card">
      <ErrorBox error={list.error ?? act.error} />
      <Table label="Budgets" rows={list.data ?? []} rowKey={(b) => b.name} empty="No budgets."
        cols={[
          { title: 'Name', cell: (b) => b.name },
          { title: 'State', cell: (b) => <State state={b.status.state} /> },
          { title: 'Amount', cell: (b) => `${b.spec.amount} ${b.status.currency ?? ''}`, className: 'num' },
          { title: 'Spent', cell: (b) => `${money(b.status.actual)} (${b.status.percentActual ?? 0}%)`, className: 'num' },
          { title: 'Forecast', cell: (b) => `${money(b.status.forecast)} (${b.status.percentForecast ?? 0}%)`, className: 'num' },
          { title: 'Alerts', cell: (b) => (b.spec.alerts ?? []).map((a) => `${a.percent}% ${a.basis ?? 'actual'}`).join(', ') || '—' },
          { title: 'Enforce', cell: (b) => b.spec.enforce ?? 'none' },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (b: Budget) => <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete budget ${b.name}?`)) void act.run(() => client.resource('budgets').delete(b.name)); }}>Delete</button> }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Create a budget" onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            await client.resource('budgets').create(f.name, { amount: f.amount, alerts: f.percent ? [{ percent: Number(f.percent) }] : [], enforce: f.enforce });
            setF({ ...f, name: '' });
          });
        }}>
          <Field label="Budget name">{(id) => <input id={id} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} required />}</Field>
          <Field label="Monthly amount">{(id) => <input id={id} inputMode="decimal" value={f.amount} onChange={(e) => setF({ ...f, amount: e.target.value })} required />}</Field>
          <Field label="Alert at %">{(id) => <input id={id} type="number" min={1} max={1000} value={f.percent} onChange={(e) => setF({ ...f, percent: e.target.value })} />}</Field>
          <Field label="Enforce">{(id) => <select id={id} value={f.enforce} onChange={(e) => setF({ ...f, enforce: e.target.value })}><option value="none">alert only</option><option value="hard">refuse new resources when over</option></select>}</Field>
          <button type="submit" disabled={act.busy}>Create budget</button>
        </form>
      ) : null}
    </section>
  );
}

function Estimate() {
  const { client } = useApp();
  const [f, setF] = useState({ type: 'instance', flavor: 'm1.small', hours: '730', count: '1', gb: '100', months: '1', replicas: '2' });
  const [out, setOut] = useState<{ currency: string; total: string; items: { sku: string; quantity: string; unit: string; amount: string }[]; notes?: string[] } | undefined>();
  const act = useAction();
  const body = (): Record<string, unknown> => {
    switch (f.type) {
      case 'instance': return { type: 'instance', flavor: f.flavor, hours: Number(f.hours), count: Number(f.count) };
      case 'app': return { type: 'app', flavor: f.flavor, hours: Number(f.hours), replicas: Number(f.replicas) };
      case 'data-out': return { type: 'data-out', gb: Number(f.gb) };
      default: return { type: f.type, gb: Number(f.gb), months: Number(f.months) };
    }
  };
  const compute = f.type === 'instance' || f.type === 'app';
  return (
    <section className="card">
      <form className="inline" aria-label="Estimate a cost" onSubmit={(e) => { e.preventDefault(); void act.run(async () => setOut(await client.request('POST', '/v1/estimates', { body: body() }))); }}>
        <Field label="What">{(id) => <select id={id} value={f.type} onChange={(e) => setF({ ...f, type: e.target.value })}><option value="instance">instances</option><option value="app">app</option><option value="volume">volume</option><option value="storage">object storage</option><option value="data-out">data out</option></select>}</Field>
        {compute ? <Field label="Flavor">{(id) => <input id={id} value={f.flavor} onChange={(e) => setF({ ...f, flavor: e.target.value })} />}</Field> : null}
        {compute ? <Field label="Hours">{(id) => <input id={id} type="number" min={1} value={f.hours} onChange={(e) => setF({ ...f, hours: e.target.value })} />}</Field> : null}
        {f.type === 'instance' ? <Field label="Count">{(id) => <input id={id} type="number" min={1} value={f.count} onChange={(e) => setF({ ...f, count: e.target.value })} />}</Field> : null}
        {f.type === 'app' ? <Field label="Replicas">{(id) => <input id={id} type="number" min={0} value={f.replicas} onChange={(e) => setF({ ...f, replicas: e.target.value })} />}</Field> : null}
        {!compute ? <Field label="GB">{(id) => <input id={id} type="number" min={0} value={f.gb} onChange={(e) => setF({ ...f, gb: e.target.value })} />}</Field> : null}
        {f.type === 'volume' || f.type === 'storage' ? <Field label="Months">{(id) => <input id={id} type="number" min={0} step="any" value={f.months} onChange={(e) => setF({ ...f, months: e.target.value })} />}</Field> : null}
        <button type="submit" disabled={act.busy}>Estimate</button>
      </form>
      <ErrorBox error={act.error} />
      {out ? (
        <div data-testid="estimate">
          <Table label="Estimate" rows={out.items} rowKey={(i) => i.sku}
            cols={[{ title: 'Item', cell: (i) => i.sku }, { title: 'Quantity', cell: (i) => `${i.quantity} ${i.unit}`, className: 'num' }, { title: 'Amount', cell: (i) => i.amount, className: 'num' }]} />
          <p className="total">Estimated total <strong>{out.total} {out.currency}</strong></p>
          {out.notes?.map((n) => <p key={n} className="muted">{n}</p>)}
        </div>
      ) : null}
    </section>
  );
}

function Prices() {
  const { client } = useApp();
  const p = useAsync(() => client.request<{ region: string; currency: string; items: { sku: string; service: string; unit: string; description: string; price?: string; from?: string }[] }>('GET', '/v1/prices'), [client]);
  return (
    <section className="card">
      <ErrorBox error={p.error} />
      {p.data ? <p className="muted">Region {p.data.region}, prices in {p.data.currency}.</p> : null}
      <Table label="Prices" rows={p.data?.items ?? []} rowKey={(i) => `${i.sku}:${i.from ?? ''}`}
        cols={[
          { title: 'Service', cell: (i) => i.service }, { title: 'SKU', cell: (i) => i.sku },
          { title: 'Description', cell: (i) => i.description }, { title: 'Price', cell: (i) => (i.price ? `${i.price} / ${i.unit}` : 'tiered'), className: 'num' },
          { title: 'From', cell: (i) => i.from?.slice(0, 10) ?? '' },
        ]} />
    </section>
  );
}
