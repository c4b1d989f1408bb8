import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { useLiveList } from '../hooks.ts';
import { ErrorBox, Field, useAction } from '../ui.tsx';

type Metric = { type: 'cpu' | 'memory' | 'requests-per-second'; target: number };
type Policy = Resource<{ target: { kind: 'app'; name: string }; minReplicas: number; maxReplicas: number; metrics: Metric[] }, { [k: string]: unknown }>;

/** The app's autoscaling policy (`app-autoscaler`, HPA-like): set, change or remove. */
export function Autoscaler({ app }: { app: string }) {
  const { client, canWrite } = useApp();
  const list = useLiveList<Policy>('app-autoscalers', 'app-autoscaler');
  const policy = list.data?.find((p) => p.spec.target.name === app);
  const [f, setF] = useState<{ min: string; max: string; type: Metric['type']; target: string } | undefined>();
  const act = useAction();
  const form = f ?? { min: String(policy?.spec.minReplicas ?? 1), max: String(policy?.spec.maxReplicas ?? 5), type: policy?.spec.metrics[0]?.type ?? 'cpu', target: String(policy?.spec.metrics[0]?.target ?? 70) };
  const save = () => act.run(async () => {
    const spec = { target: { kind: 'app', name: app }, minReplicas: Number(form.min), maxReplicas: Number(form.max), metrics: [{ type: form.type, target: Number(form.target) }] };
    if (policy) await client.resource('app-autoscalers').update(policy.name, { spec }, policy.resourceVersion);
    else await client.resource('app-autoscalers').create(app, spec);
    setF(undefined);
  });
  return (
    <section className="card" aria-labelledby="h-hpa">
      <h2 id="h-hpa">Autoscaling</h2>
      <ErrorBox error={list.error ?? act.error} />
      <p data-testid="hpa-summary">{policy
        ? <>Between <strong>{policy.spec.minReplicas}</strong> and <strong>{policy.spec.maxReplicas}</strong> replicas, aiming at {policy.spec.metrics.map((m) => `${m.type} ${m.target}${m.type === 'requests-per-second' ? ' per replica' : '%'}`).join(', ')}.</>
        : <span className="muted">No policy: the replica count stays where you set it.</span>}</p>
      {canWrite ? (
        <form className="inline" aria-label="Autoscaling policy" onSubmit={(e) => { e.preventDefault(); void save(); }}>
          <Field label="Min replicas">{(id) => <input id={id} type="number" min={0} value={form.min} onChange={(e) => setF({ ...form, min: e.target.value })} />}</Field>
          <Field label="Max replicas">{(id) => <input id={id} type="number" min={1} value={form.max} onChange={(e) => setF({ ...form, max: e.target.value })} />}</Field>
          <Field label="Metric">{(id) => <select id={id} value={form.type} onChange={(e) => setF({ ...form, type: e.target.value as Metric['type'] })}><option value="cpu">CPU %</option><option value="memory">memory %</option><option value="requests-per-second">requests/s per replica</option></select>}</Field>
          <Field label="Target">{(id) => <input id={id} type="number" min={1} value={form.target} onChange={(e) => setF({ ...form, target: e.target.value })} />}</Field>
          <button type="submit" disabled={act.busy}>{policy ? 'Update policy' : 'Set policy'}</button>
          {policy ? <button type="button" className="ghost" onClick={() => void act.run(() => client.resource('app-autoscalers').delete(policy.name))}>Remove</button> : null}
        </form>
      ) : null}
    </section>
  );
}
