import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.ts';
import { Sparkline } from '../chart.tsx';
import { useAsync } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { ErrorBox, PageHead, State, Table, ago, useAction } from '../ui.tsx';
import type { AppResource } from './Apps.tsx';
import { Autoscaler } from './Autoscaler.tsx';

interface Traffic { requestsPerSecond: number; errorsPerSecond: number; p50Ms: number; p95Ms: number; p99Ms: number }
interface StatusDoc { status: AppResource['status']; traffic?: Traffic }
interface Revision { name: string; current: boolean; createdAt: string; spec: { revision: number; changeCause?: string; template?: { image?: string } } }

const POLL_MS = 2000;
const POINTS = 60;

export function AppDetail({ name }: { name: string }) {
  const { client, hub, canWrite, has } = useApp();
  const path = `/v1/apps/${encodeURIComponent(name)}`;
  const first = useAsync(() => client.request<AppResource>('GET', path), [client, name]);
  const [live, setLive] = useState<AppResource | undefined>();
  const [gone, setGone] = useState(false);
  useEffect(() => hub.on('app', (e) => {
    if (e.object.name !== name) return;
    if (e.type === 'DELETED') setGone(true); else setLive(e.object as unknown as AppResource);
  }), [hub, name]);
  const a = live && first.data && live.resourceVersion >= first.data.resourceVersion ? live : first.data ?? live;
  const revisions = useAsync(() => client.request<{ items: Revision[] }>('GET', `${path}/revisions`), [client, name, a?.status.currentRevision]);
  const act = useAction();
  const [replicas, setReplicas] = useState<number | undefined>();
  useEffect(() => { if (a && replicas === undefined) setReplicas(a.spec.replicas); }, [a, replicas]);

  // Charts: the router's sliding-window figures, sampled every POLL_MS.
  const [series, setSeries] = useState<{ rps: number[]; p95: number[]; ready: number[] }>({ rps: [], p95: [], ready: [] });
  useEffect(() => {
    let live = true;
    const tick = async () => {
      const s = await client.request<StatusDoc>('GET', `${path}/status`).catch(() => undefined);
      if (!live || !s) return;
      const push = (l: number[], v: number) => [...l, v].slice(-POINTS);
      setSeries((x) => ({ rps: push(x.rps, s.traffic?.requestsPerSecond ?? 0), p95: push(x.p95, s.traffic?.p95Ms ?? 0), ready: push(x.ready, s.status.readyReplicas ?? 0) }));
    };
    void tick();
    const t = setInterval(() => void tick(), POLL_MS);
    return () => { live = false; clearInterval(t); };
  }, [client, path]);

  if (gone) return <div><PageHead title={name} /><p>This app was deleted. <Link to="/apps">Back to apps</Link></p></div>;
  if (first.error && !a) return <div><PageHead title={name} /><ErrorBox error={first.error} /></div>;
  if (!a) return <p className="muted">Loading…</p>;
  const scale = (n: number) => act.run(() => client.request('POST', `${path}/scale`, { body: { replicas: n } }));
  return (
    <div>
      <p className="crumbs"><Link to="/apps">Apps</Link> /</p>
      <PageHead title={a.name}>
        <State state={a.deletionTimestamp ? 'Deleting' : a.status.state} />
        {canWrite ? <button type="button" className="danger" onClick={() => { if (confirm(`Delete app ${a.name} and its replicas?`)) void act.run(async () => { await client.resource('apps').delete(a.name); navigate('/apps'); }); }}>Delete</button> : null}
      </PageHead>
      <ErrorBox error={act.error} />
      {a.status.message ? <p className="note">{a.status.message}</p> : null}
      <div className="grid">
        <section className="card" aria-labelledby="h-scale">
          <h2 id="h-scale">Replicas</h2>
          <p><strong data-testid="ready-replicas">{a.status.readyReplicas ?? 0}</strong> ready of <strong>{a.spec.replicas}</strong> wanted · revision {a.status.currentRevision ?? '—'}</p>
          {canWrite ? (
            <div className="slider">
              <label htmlFor="replicas">Replicas: <output htmlFor="replicas">{replicas ?? a.spec.replicas}</output></label>
              <input id="replicas" type="range" min={0} max={Math.max(10, a.spec.replicas)} value={replicas ?? a.spec.replicas}
                onChange={(e) => setReplicas(Number(e.target.value))}
                onPointerUp={() => { if (replicas !== undefined && replicas !== a.spec.replicas) void scale(replicas); }}
                onKeyUp={() => { if (replicas !== undefined && replicas !== a.spec.replicas) void scale(replicas); }} />
            </div>
          ) : null}
          {a.status.url ? <p>URL <a href={a.status.url} target="_blank" rel="noreferrer">{a.status.url}</a></p> : null}
        </section>
        <section className="card" aria-labelledby="h-traffic">
          <h2 id="h-traffic">Traffic <span className="muted">(last {POINTS * POLL_MS / 1000} s)</span></h2>
          <Sparkline title={`requests/s (now ${(series.rps.at(-1) ?? 0).toFixed(1)})`} points={series.rps} />
          <Sparkline title={`p95 latency ms (now ${(series.p95.at(-1) ?? 0).toFixed(0)})`} points={series.p95} />
          <Sparkline title={`ready replicas (now ${series.ready.at(-1) ?? 0})`} points={series.ready} />
        </section>
      </div>
      {has('/v1/app-autoscalers') ? <Autoscaler app={a.name} /> : null}
      <section className="card" aria-labelledby="h-rep">
        <h2 id="h-rep">Replica instances</h2>
        <Table label="Replicas" rows={a.status.replicaStatus ?? []} rowKey={(r) => r.name} empty="No replicas."
          cols={[
            { title: 'Instance', cell: (r) => <Link to={`/instances/${encodeURIComponent(r.name)}`}>{r.name}</Link> },
            { title: 'State', cell: (r) => <State state={r.state} /> },
            { title: 'Ready', cell: (r) => (r.ready ? 'yes' : 'no') },
            { title: 'Revision', cell: (r) => r.revision, className: 'num' },
            { title: 'Address', cell: (r) => r.address ?? '—' },
            { title: 'Restarts', cell: (r) => r.restartCount ?? 0, className: 'num' },
          ]} />
      </section>
      <section className="card" aria-labelledby="h-revs">
        <h2 id="h-revs">Revisions</h2>
        <ErrorBox error={revisions.error} />
        <Table label="Revisions" rows={[...(revisions.data?.items ?? [])].reverse()} rowKey={(r) => r.name}
          cols={[
            { title: 'Revision', cell: (r) => <>{r.spec.revision}{r.current ? <span className="muted"> (current)</span> : null}</> },
            { title: 'Change', cell: (r) => r.spec.changeCause ?? '—' },
            { title: 'Created', cell: (r) => ago(r.createdAt) },
            ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (r: Revision) => (r.current ? null : <button type="button" className="small" onClick={() => void act.run(() => client.request('POST', `${path}/rollback`, { body: { revision: r.spec.revision } }))}>Roll back to this</button>) }] : []),
          ]} />
      </section>
      <AppLogs path={path} />
    </div>
  );
}

function AppLogs({ path }: { path: string }) {
  const { client } = useApp();
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ac = new AbortController();
    setText('');
    (async () => {
      const res = await fetch(`${path}/logs?follow=true&tailBytes=32768`, { headers: { authorization: `Bearer ${client.token}`, 'x-yun-project': client.project ?? '' }, signal: ac.signal });
      if (!res.ok || !res.body) throw new Error(`logs: HTTP ${res.status}`);
      const dec = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) setText((t) => (t + dec.decode(chunk, { stream: true })).slice(-200_000));
    })().catch((e) => { if (!ac.signal.aborted) setError(e); });
    return () => ac.abort();
  }, [client, path]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  return (
    <section className="card" aria-labelledby="h-alog">
      <h2 id="h-alog">Logs <span className="muted">(all replicas, following)</span></h2>
      <ErrorBox error={error} />
      <pre ref={pre} className="log" data-testid="app-log" tabIndex={0}>{text || 'No output yet.'}</pre>
    </section>
  );
}
