import { useEffect, useRef, useState } from 'react';
import { compute, type InstanceResource } from '../../../src/sdk/compute.ts';
import { useApp } from '../app-context.ts';
import { Sparkline } from '../chart.tsx';
import { useAsync } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { Dialog, ErrorBox, Field, FormErrors, PageHead, State, ago, useAction } from '../ui.tsx';
import { optionalList } from './CreateInstance.tsx';
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
  const [grouping, setGrouping] = useState(false);

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
            <dt>Type</dt><dd>{r.spec.type === 'vm' ? 'virtual machine' : 'container'}</dd>
            <dt>Image</dt><dd>{r.spec.image}</dd>
            <dt>Flavor</dt><dd>{r.spec.flavor ?? 'custom'} <span className="muted">{r.spec.size ? `${r.spec.size.vcpus} vCPU · ${r.spec.size.ramMb} MiB` : ''}</span></dd>
            {st.liveResize ? <><dt>Live resize</dt><dd>memory {st.liveResize.minMemoryMb}–{st.liveResize.maxMemoryMb} MiB, {st.liveResize.vcpus}{st.liveResize.maxVcpus ? `–${st.liveResize.maxVcpus}` : ''} vCPU</dd></> : null}
            <dt>Addresses</dt><dd>{(st.addresses ?? []).map((a) => `${a.ip} (${a.network})`).join(', ') || '—'}</dd>
            <dt>Security groups</dt>
            <dd>
              <span data-testid="instance-groups">{(r.spec.securityGroups?.length ? r.spec.securityGroups : ['default']).join(', ')}</span>{' '}
              {canWrite && !r.deletionTimestamp ? <button type="button" className="ghost" onClick={() => setGrouping(true)}>Change groups</button> : null}
            </dd>
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
      {resizing ? <Resize r={r} onClose={() => setResizing(false)} /> : null}
      {grouping ? <SecurityGroups r={r} onClose={() => setGrouping(false)} /> : null}
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

/** Moves the instance to other security groups; the rules apply to it live, without a restart. */
function SecurityGroups({ r, onClose }: { r: InstanceResource; onClose(): void }) {
  const { client } = useApp();
  const groups = useAsync(() => optionalList(client, 'security-groups'), [client]);
  const [chosen, setChosen] = useState<string[]>(r.spec.securityGroups?.length ? r.spec.securityGroups : ['default']);
  const act = useAction();
  const toggle = (g: string) => setChosen(chosen.includes(g) ? chosen.filter((x) => x !== g) : [...chosen, g]);
  return (
    <Dialog title={`Security groups of ${r.name}`} open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await compute(client).instance(r.name).setSecurityGroups(chosen); onClose(); }); }}>
        <FormErrors error={act.error}>
          <fieldset>
            <legend>Groups</legend>
            {groups.data ? [...new Set(['default', ...groups.data.map((g) => g.name)])].map((g) => (
              <label key={g} className="check"><input type="checkbox" checked={chosen.includes(g)} onChange={() => toggle(g)} /> {g}</label>
            )) : null}
          </fieldset>
        </FormErrors>
        <p className="note">The rules apply to the running instance at once; it is not restarted. With no group it is in the project's default group.</p>
        <ErrorBox error={act.error ?? groups.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy}>Save groups</button></div>
      </form>
    </Dialog>
  );
}

/**
 * Resize to a flavor or to a custom vCPU/memory size. A running VM reports in
 * `status.liveResize` which sizes apply live (memory by balloon within its
 * boot size, vCPUs added up to `maxVcpus`); any other change to a running instance
 * needs "allow restart" (`allowRestart`), else the API refuses (409) with
 * the reason, shown here.
 */
function Resize({ r, onClose }: { r: InstanceResource; onClose(): void }) {
  const { client } = useApp();
  const flavors = useAsync(() => client.request<{ items: Flavor[] }>('GET', '/v1/flavors'), [client]);
  const [mode, setMode] = useState<'flavor' | 'custom'>(r.spec.flavor ? 'flavor' : 'custom');
  const [flavor, setFlavor] = useState(r.spec.flavor ?? '');
  const [cpus, setCpus] = useState(String(r.spec.size?.vcpus ?? r.spec.cpus ?? 1));
  const [memoryMb, setMemoryMb] = useState(String(r.spec.size?.ramMb ?? r.spec.memoryMb ?? 256));
  const [allowRestart, setAllowRestart] = useState(false);
  const act = useAction();
  const running = r.status.state === 'running';
  const live = running ? r.status.liveResize : undefined;
  const f = flavors.data?.items.find((x) => x.name === flavor);
  const want = mode === 'flavor' ? (f ? { vcpus: f.spec.vcpus, ramMb: f.spec.ramMb } : undefined) : { vcpus: Number(cpus), ramMb: Number(memoryMb) };
  const wantVcpus = want ? Math.max(1, Math.ceil(want.vcpus)) : 0;
  const fitsLive = live && want ? wantVcpus >= live.vcpus && wantVcpus <= (live.maxVcpus ?? live.vcpus) && want.ramMb >= live.minMemoryMb && want.ramMb <= live.maxMemoryMb : undefined;
  const unchanged = mode === 'flavor' ? !flavor || flavor === r.spec.flavor : false;
  const body = () => ({ ...(mode === 'flavor' ? { flavor } : { cpus: Number(cpus), memoryMb: Number(memoryMb) }), ...(running ? { allowRestart: allowRestart && !fitsLive } : {}) });
  return (
    <Dialog title={`Resize ${r.name}`} open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await compute(client).instance(r.name).resize(body()); onClose(); }); }}>
        <FormErrors error={act.error}>
          <fieldset className="types">
            <legend>New size</legend>
            <label className="check"><input type="radio" name="resize-mode" checked={mode === 'flavor'} onChange={() => setMode('flavor')} /> A flavor</label>
            <label className="check"><input type="radio" name="resize-mode" checked={mode === 'custom'} onChange={() => setMode('custom')} /> Custom size</label>
          </fieldset>
          {mode === 'flavor' ? (
            <Field label="New flavor" name="flavor">{(id, a) => (
              <select id={id} {...a} value={flavor} onChange={(e) => setFlavor(e.target.value)}>
                {!flavor ? <option value="">choose…</option> : null}
                {(flavors.data?.items ?? []).map((x) => <option key={x.name} value={x.name}>{x.name} — {x.spec.vcpus} vCPU, {x.spec.ramMb} MiB</option>)}
              </select>
            )}</Field>
          ) : (
            <div className="row-form">
              <Field label="vCPUs" name="cpus">{(id, a) => <input id={id} {...a} type="number" min={0.1} step="any" value={cpus} onChange={(e) => setCpus(e.target.value)} required />}</Field>
              <Field label="Memory (MiB)" name="memoryMb">{(id, a) => <input id={id} {...a} type="number" min={16} step={1} value={memoryMb} onChange={(e) => setMemoryMb(e.target.value)} required />}</Field>
            </div>
          )}
        </FormErrors>
        {live ? (
          <p className="note" data-testid="live-range">
            Applies live: memory from {live.minMemoryMb} to {live.maxMemoryMb} MiB with {live.maxVcpus ? `${live.vcpus} to ${live.maxVcpus} vCPUs` : `${live.vcpus} vCPU${live.vcpus === 1 ? '' : 's'}`}.
            {fitsLive === undefined ? null : fitsLive ? ' This size applies live, without a restart.' : ' This size needs a restart.'}
          </p>
        ) : null}
        {running && !fitsLive ? (
          <label className="check"><input type="checkbox" checked={allowRestart} onChange={(e) => setAllowRestart(e.target.checked)} /> Allow a restart {r.spec.type === 'vm' ? '(the VM is stopped and started; its disks are kept)' : 'when the driver cannot resize live'}</label>
        ) : null}
        <ErrorBox error={act.error ?? flavors.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy || unchanged}>Resize</button></div>
      </form>
    </Dialog>
  );
}
