import { useEffect, useRef, useState } from 'react';
import { compute, type InstanceResource } from '../../../src/sdk/compute.ts';
import { useApp } from '../app-context.ts';
import { Sparkline } from '../chart.tsx';
import { useAsync } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { Dialog, ErrorBox, Field, PageHead, State, ago, useAction } from '../ui.tsx';
import type { Flavor } from './Instances.tsx';

export function InstanceDetail({ name }: { name: string }) {
  const { client, hub, canWrite } = useApp();
  const handle = compute(client).instance(name);
  const first = useAsync(() => handle.get(), [client, name]);
  const [live, setLive] = useState<InstanceResource | undefined>();
  const [gone, setGone] = useState(false);
  useEffect(() => hub.on('instance', (e) => {
    if (e.object.name !== name) return;
    if (e.type === 'DELETED') setGone(true);
    else setLive(e.object as unknown as InstanceResource);
  }), [hub, name]);
  const r = live && first.data && live.resourceVersion >= first.data.resourceVersion ? live : first.data ?? live;
  const act = useAction();
  const [resizing, setResizing] = useState(false);

  if (gone) return <div><PageHead title={name} /><p>This instance was deleted. <Link to="/instances">Back to instances</Link></p></div>;
  if (first.error && !r) return <div><PageHead title={name} /><ErrorBox error={first.error} /></div>;
  if (!r) return <p className="muted">Loading…</p>;
  const st = r.status;
  const stopped = r.spec.powerState === 'stopped';
  return (
    <div>
      <p className="crumbs"><Link to="/instances">Instances</Link> /</p>
      <PageHead title={r.name}>
        <State state={r.deletionTimestamp ? 'deleting' : st.state} />
        {canWrite ? (
          <>
            {stopped
              ? <button type="button" disabled={act.busy} onClick={() => void act.run(() => handle.start())}>Start</button>
              : <button type="button" disabled={act.busy} onClick={() => void act.run(() => handle.stop())}>Stop</button>}
            <button type="button" className="ghost" disabled={act.busy || stopped} onClick={() => void act.run(() => handle.reboot())}>Reboot</button>
            <button type="button" className="ghost" onClick={() => setResizing(true)}>Resize</button>
            <button type="button" className="danger" disabled={act.busy} onClick={() => { if (confirm(`Delete instance ${r.name}? This cannot be undone.`)) void act.run(async () => { await handle.delete(); navigate('/instances'); }); }}>Delete</button>
          </>
        ) : null}
      </PageHead>
      <ErrorBox error={act.error} />
      {st.reason || st.message ? <p className="note">{st.reason ? <strong>{st.reason}: </strong> : null}{st.message}</p> : null}
      <div className="grid">
        <section className="card" aria-labelledby="h-spec">
          <h2 id="h-spec">Instance</h2>
          <dl className="review">
            <dt>Image</dt><dd>{r.spec.image}</dd>
            <dt>Flavor</dt><dd>{r.spec.flavor ?? 'custom'} <span className="muted">{r.spec.size ? `${r.spec.size.vcpus} vCPU · ${r.spec.size.ramMb} MiB` : ''}</span></dd>
            <dt>Addresses</dt><dd>{(st.addresses ?? []).map((a) => `${a.ip} (${a.network})`).join(', ') || '—'}</dd>
            <dt>Host</dt><dd>{st.host ?? '—'} <span className="muted">{st.driver ?? ''}</span></dd>
            <dt>Started</dt><dd>{ago(st.startedAt)}</dd>
            <dt>Restarts</dt><dd>{st.restartCount ?? 0}</dd>
            <dt>Generation</dt><dd>{r.generation} <span className="muted">(observed {st.observedGeneration ?? 0})</span></dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="h-cond">
          <h2 id="h-cond">Conditions</h2>
          <ul className="plain">
            {(st.conditions ?? []).map((c) => <li key={c.type}><strong>{c.type}</strong> {c.status} <span className="muted">{c.reason ?? ''} {c.message ?? ''}</span></li>)}
            {!st.conditions?.length ? <li className="muted">None reported.</li> : null}
          </ul>
          {st.isolationNotProvided?.length ? <p className="muted">Isolation not provided by this driver: {st.isolationNotProvided.join(', ')}</p> : null}
        </section>
      </div>
      {st.state === 'running' ? <Usage name={r.name} /> : null}
      <ConsoleLog name={r.name} state={st.state} />
      {resizing ? <Resize name={r.name} current={r.spec.flavor} onClose={() => setResizing(false)} /> : null}
    </div>
  );
}

/** CPU and memory of a running instance, sampled from `/stats` every 2 s. */
function Usage({ name }: { name: string }) {
  const { client } = useApp();
  const [cpu, setCpu] = useState<number[]>([]);
  const [mem, setMem] = useState<number[]>([]);
  useEffect(() => {
    let live = true;
    let last: { at: number; cpu: number } | undefined;
    const h = compute(client).instance(name);
    const tick = async () => {
      const s = await h.stats().catch(() => undefined);
      if (!live || !s) return;
      const now = performance.now();
      if (last) setCpu((l) => [...l, Math.max(0, ((s.cpuSeconds - last!.cpu) / ((now - last!.at) / 1000)) * 100)].slice(-60));
      last = { at: now, cpu: s.cpuSeconds };
      setMem((l) => [...l, s.memoryBytes / 2 ** 20].slice(-60));
    };
    void tick();
    const t = setInterval(() => void tick(), 2000);
    return () => { live = false; clearInterval(t); };
  }, [client, name]);
  return (
    <section className="card" aria-labelledby="h-usage">
      <h2 id="h-usage">Usage <span className="muted">(last 2 minutes)</span></h2>
      <div className="grid">
        <Sparkline title={`CPU % of one core (now ${(cpu.at(-1) ?? 0).toFixed(1)})`} points={cpu} />
        <Sparkline title={`memory MiB (now ${(mem.at(-1) ?? 0).toFixed(1)})`} points={mem} />
      </div>
    </section>
  );
}

/** The console log, followed live while the instance runs. */
function ConsoleLog({ name, state }: { name: string; state?: string }) {
  const { client } = useApp();
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const pre = useRef<HTMLPreElement>(null);
  const running = state === 'running';
  useEffect(() => {
    const ac = new AbortController();
    setText('');
    setError(undefined);
    const h = compute(client).instance(name);
    const follow = running
      ? h.followLogs((s) => setText((t) => (t + s).slice(-200_000)), { tailBytes: 64 * 1024, signal: ac.signal })
      : h.logs({ tailBytes: 64 * 1024 }).then(setText);
    follow.catch((e) => { if (!ac.signal.aborted) setError(e); });
    return () => ac.abort();
  }, [client, name, running]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  return (
    <section className="card" aria-labelledby="h-log">
      <h2 id="h-log">Console log {running ? <span className="muted">(following)</span> : null}</h2>
      <ErrorBox error={error} />
      <pre ref={pre} className="log" data-testid="console-log" tabIndex={0}>{text || 'No output yet.'}</pre>
    </section>
  );
}

function Resize({ name, current, onClose }: { name: string; current?: string; onClose(): void }) {
  const { client } = useApp();
  const flavors = useAsync(() => client.request<{ items: Flavor[] }>('GET', '/v1/flavors'), [client]);
  const [flavor, setFlavor] = useState(current ?? '');
  const [allowRestart, setAllowRestart] = useState(true);
  const act = useAction();
  return (
    <Dialog title={`Resize ${name}`} open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await compute(client).instance(name).resize({ flavor, allowRestart }); onClose(); }); }}>
        <Field label="New flavor">{(id) => (
          <select id={id} value={flavor} onChange={(e) => setFlavor(e.target.value)}>
            {(flavors.data?.items ?? []).map((f) => <option key={f.name} value={f.name}>{f.name} — {f.spec.vcpus} vCPU, {f.spec.ramMb} MiB</option>)}
          </select>
        )}</Field>
        <label className="check"><input type="checkbox" checked={allowRestart} onChange={(e) => setAllowRestart(e.target.checked)} /> Allow a restart when the driver cannot resize live</label>
        <ErrorBox error={act.error ?? flavors.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy || !flavor || flavor === current}>Resize</button></div>
      </form>
    </Dialog>
  );
}
