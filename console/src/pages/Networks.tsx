import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { useLiveList } from '../hooks.ts';
import { navigate } from '../router.tsx';
import { ErrorBox, Field, FormErrors, PageHead, State, Table, Tabs, ago, useAction } from '../ui.tsx';

type R<S> = Resource<S, { state?: string; message?: string; [k: string]: unknown }>;
interface Rule { direction: string; protocol: string; portMin?: number; portMax?: number; remoteCidr?: string; remoteGroup?: string }

const TABS = [
  { id: 'networks', label: 'Networks' }, { id: 'security-groups', label: 'Security groups' },
  { id: 'floating-ips', label: 'Published ports' }, { id: 'load-balancers', label: 'Load balancers' },
];

export function Networks({ tab }: { tab: string }) {
  return (
    <div>
      <PageHead title="Networking" />
      <Tabs tabs={TABS} current={tab} onSelect={(t) => navigate(`/networks/${t}`)} />
      <div role="tabpanel">
        {tab === 'security-groups' ? <Groups /> : tab === 'floating-ips' ? <FloatingIps /> : tab === 'load-balancers' ? <LoadBalancers /> : <NetworkList />}
      </div>
    </div>
  );
}

function DeleteButton({ plural, name }: { plural: string; name: string }) {
  const { client } = useApp();
  const act = useAction();
  return (
    <>
      <button type="button" className="small ghost" disabled={act.busy} onClick={() => { if (confirm(`Delete ${name}?`)) void act.run(() => client.resource(plural).delete(name)); }}>Delete</button>
      <ErrorBox error={act.error} />
    </>
  );
}

function NetworkList() {
  const { client, canWrite } = useApp();
  const list = useLiveList<R<{ cidr: string; gateway: string; mtu: number; nat: boolean }>>('networks', 'network');
  const [name, setName] = useState('');
  const [cidr, setCidr] = useState('');
  const act = useAction();
  return (
    <section className="card">
      <ErrorBox error={list.error ?? act.error} />
      <Table label="Networks" rows={list.data ?? []} rowKey={(r) => r.name}
        cols={[
          { title: 'Name', cell: (r) => r.name },
          { title: 'State', cell: (r) => <State state={r.status.state} /> },
          { title: 'CIDR', cell: (r) => r.spec.cidr },
          { title: 'Gateway', cell: (r) => r.spec.gateway },
          { title: 'NAT', cell: (r) => (r.spec.nat ? 'yes' : 'no') },
          { title: 'Ports', cell: (r) => String(r.status.ports ?? 0), className: 'num' },
          { title: 'Driver', cell: (r) => String(r.status.driver ?? '—') },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (r: { name: string }) => <DeleteButton plural="networks" name={r.name} /> }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Create a network" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.resource('networks').create(name, cidr ? { cidr } : {}); setName(''); setCidr(''); }); }}>
          <FormErrors error={act.error}>
            <Field label="Network name" name="name">{(id, a) => <input id={id} {...a} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
            <Field label="CIDR" name="cidr" hint="empty: chosen by yun">{(id, a) => <input id={id} {...a} value={cidr} onChange={(e) => setCidr(e.target.value)} placeholder="10.20.0.0/24" />}</Field>
          </FormErrors>
          <button type="submit" disabled={act.busy}>Create network</button>
        </form>
      ) : null}
    </section>
  );
}

const ruleText = (r: Rule) => [r.direction, r.protocol, r.portMin !== undefined ? (r.portMin === r.portMax ? r.portMin : `${r.portMin}-${r.portMax}`) : 'all', r.remoteCidr ?? (r.remoteGroup ? `sg:${r.remoteGroup}` : '')].join(' ').trim();

function Groups() {
  const { client, canWrite } = useApp();
  const list = useLiveList<R<{ description?: string; rules: Rule[] }>>('security-groups', 'security-group');
  const [name, setName] = useState('');
  const [ruleFor, setRuleFor] = useState<Record<string, string>>({});
  const act = useAction();
  const sg = (n: string) => `/v1/security-groups/${encodeURIComponent(n)}/rules`;
  return (
    <section className="card">
      <ErrorBox error={list.error ?? act.error} />
      {(list.data ?? []).map((g) => (
        <div key={g.name} className="group" data-group={g.name}>
          <h3>{g.name} <span className="muted">{g.spec.description ?? ''}</span> {canWrite ? <DeleteButton plural="security-groups" name={g.name} /> : null}</h3>
          <ul className="rules">
            {g.spec.rules.map((r) => (
              <li key={ruleText(r)}><code>{ruleText(r)}</code>{canWrite ? <button type="button" className="small ghost" aria-label={`Delete rule ${ruleText(r)}`} onClick={() => void act.run(() => client.request('POST', `${sg(g.name)}/delete`, { body: { rule: r } }))}>×</button> : null}</li>
            ))}
            {!g.spec.rules.length ? <li className="muted">No rules: nothing comes in.</li> : null}
          </ul>
          {canWrite ? (
            <form className="inline" aria-label={`Add a rule to ${g.name}`} onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.request('POST', sg(g.name), { body: { rule: ruleFor[g.name] ?? '' } }); setRuleFor({ ...ruleFor, [g.name]: '' }); }); }}>
              <Field label="New rule" hint="e.g. ingress tcp 80 0.0.0.0/0">{(id) => <input id={id} value={ruleFor[g.name] ?? ''} onChange={(e) => setRuleFor({ ...ruleFor, [g.name]: e.target.value })} required />}</Field>
              <button type="submit" className="small">Add rule</button>
            </form>
          ) : null}
        </div>
      ))}
      {list.data && !list.data.length ? <p className="muted">No security groups.</p> : null}
      {canWrite ? (
        <form className="inline" aria-label="Create a security group" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.resource('security-groups').create(name, { rules: [] }); setName(''); }); }}>
          <Field label="Security group name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
          <button type="submit" disabled={act.busy}>Create security group</button>
        </form>
      ) : null}
    </section>
  );
}

function FloatingIps() {
  const { client, canWrite } = useApp();
  const list = useLiveList<R<{ instance: string; port: number; protocol: string; hostIp: string; hostPort: number }>>('floating-ips', 'floating-ip');
  const [name, setName] = useState('');
  const [instance, setInstance] = useState('');
  const [port, setPort] = useState('80');
  const act = useAction();
  return (
    <section className="card">
      <ErrorBox error={list.error ?? act.error} />
      <Table label="Published ports" rows={list.data ?? []} rowKey={(r) => r.name}
        cols={[
          { title: 'Name', cell: (r) => r.name },
          { title: 'State', cell: (r) => <State state={r.status.state} /> },
          { title: 'Host address', cell: (r) => `${r.spec.hostIp}:${r.spec.hostPort}` },
          { title: 'Target', cell: (r) => `${r.spec.instance}:${r.spec.port}/${r.spec.protocol}` },
          { title: 'Created', cell: (r) => ago(r.createdAt) },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (r: { name: string }) => <DeleteButton plural="floating-ips" name={r.name} /> }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Publish a port" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.resource('floating-ips').create(name, { instance, port: Number(port) }); setName(''); }); }}>
          <Field label="Name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
          <Field label="Instance">{(id) => <input id={id} value={instance} onChange={(e) => setInstance(e.target.value)} required />}</Field>
          <Field label="Instance port">{(id) => <input id={id} type="number" min={1} max={65535} value={port} onChange={(e) => setPort(e.target.value)} required />}</Field>
          <button type="submit" disabled={act.busy}>Publish</button>
        </form>
      ) : null}
    </section>
  );
}

function LoadBalancers() {
  const { client, canWrite } = useApp();
  type Lb = R<{ network: string; algorithm: string; listeners: { protocol: string; port: number; hostIp: string }[]; members: { instance: string; port: number }[] }>;
  const list = useLiveList<Lb>('load-balancers', 'load-balancer');
  const [f, setF] = useState({ name: '', network: 'default', protocol: 'http', port: '', members: '', memberPort: '80' });
  const act = useAction();
  return (
    <section className="card">
      <ErrorBox error={list.error ?? act.error} />
      <Table label="Load balancers" rows={list.data ?? []} rowKey={(r) => r.name}
        cols={[
          { title: 'Name', cell: (r) => r.name },
          { title: 'State', cell: (r) => <State state={r.status.state} /> },
          { title: 'Listeners', cell: (r) => r.spec.listeners.map((l) => `${l.protocol} ${l.hostIp}:${l.port}`).join(', ') },
          { title: 'Members', cell: (r) => ((r.status.members as { instance: string; port: number; healthy: boolean }[] | undefined) ?? r.spec.members.map((m) => ({ ...m, healthy: false }))).map((m) => `${m.instance}:${m.port}${r.status.members ? (m.healthy ? ' ✓' : ' ✗') : ''}`).join(', ') || '—' },
          { title: 'Algorithm', cell: (r) => r.spec.algorithm },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (r: { name: string }) => <DeleteButton plural="load-balancers" name={r.name} /> }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Create a load balancer" onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            const members = f.members.split(',').map((s) => s.trim()).filter(Boolean).map((instance) => ({ instance, port: Number(f.memberPort) }));
            await client.resource('load-balancers').create(f.name, { network: f.network, listeners: [{ protocol: f.protocol, port: Number(f.port) }], members });
            setF({ ...f, name: '' });
          });
        }}>
          <Field label="Name">{(id) => <input id={id} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} required />}</Field>
          <Field label="Network">{(id) => <input id={id} value={f.network} onChange={(e) => setF({ ...f, network: e.target.value })} required />}</Field>
          <Field label="Protocol">{(id) => <select id={id} value={f.protocol} onChange={(e) => setF({ ...f, protocol: e.target.value })}><option>http</option><option>tcp</option></select>}</Field>
          <Field label="Listen port">{(id) => <input id={id} type="number" value={f.port} onChange={(e) => setF({ ...f, port: e.target.value })} required />}</Field>
          <Field label="Member instances" hint="comma-separated">{(id) => <input id={id} value={f.members} onChange={(e) => setF({ ...f, members: e.target.value })} />}</Field>
          <Field label="Member port">{(id) => <input id={id} type="number" value={f.memberPort} onChange={(e) => setF({ ...f, memberPort: e.target.value })} />}</Field>
          <button type="submit" disabled={act.busy}>Create load balancer</button>
        </form>
      ) : null}
    </section>
  );
}
