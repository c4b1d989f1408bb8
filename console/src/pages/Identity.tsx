import { useState } from 'react';
import { useApp } from '../app-context.ts';
import { useAsync } from '../hooks.ts';
import { navigate } from '../router.tsx';
import { Copy, ErrorBox, Field, PageHead, Table, Tabs, ago, useAction } from '../ui.tsx';

const TABS = [
  { id: 'users', label: 'Users' }, { id: 'access-keys', label: 'Access keys' },
  { id: 'policies', label: 'Policies' }, { id: 'quotas', label: 'Quotas' },
];

export function Identity({ tab }: { tab: string }) {
  return (
    <div>
      <PageHead title="Identity" />
      <Tabs tabs={TABS} current={tab} onSelect={(t) => navigate(`/identity/${t}`)} />
      <div role="tabpanel">
        {tab === 'users' ? <Users /> : tab === 'access-keys' ? <AccessKeys /> : tab === 'policies' ? <Policies /> : <Quotas />}
      </div>
    </div>
  );
}

function Users() {
  const { client, me, canWrite } = useApp();
  const users = useAsync(() => client.users.list(), [client]);
  const members = useAsync(() => client.projects.members(me.project ?? 'default'), [client]);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('member');
  const [created, setCreated] = useState<{ name: string; password?: string } | undefined>();
  const act = useAction();
  const roleOf = new Map((members.data?.items ?? []).map((m) => [m.userName, m.role]));
  return (
    <section className="card" aria-labelledby="h-users">
      <h2 id="h-users">Users in {me.project}</h2>
      <ErrorBox error={users.error ?? act.error} />
      {created ? (
        <p className="secret" role="status">User <strong>{created.name}</strong> created.{created.password ? <> Its generated password, shown once: <code>{created.password}</code> <Copy text={created.password} /></> : null}</p>
      ) : null}
      <Table label="Users" rows={users.data?.items ?? []} rowKey={(u) => u.name}
        cols={[
          { title: 'Name', cell: (u) => u.name },
          { title: 'Role here', cell: (u) => roleOf.get(u.name) ?? '—' },
          { title: 'Cloud admin', cell: (u) => (u.isAdmin ? 'yes' : '') },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (u: { name: string }) => (u.name === me.user ? null : (
            <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete user ${u.name}?`)) void act.run(async () => { await client.users.delete(u.name); users.reload(); }); }}>Delete</button>
          )) }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Create a user" onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            const u = await client.users.create({ name, role, ...(password ? { password } : {}) });
            setCreated({ name: u.name, password: u.password });
            setName(''); setPassword('');
            users.reload(); members.reload();
          });
        }}>
          <Field label="User name">{(id) => <input id={id} name="new-user" value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
          <Field label="Password" hint="empty: generate one">{(id) => <input id={id} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
          <Field label="Role">{(id) => <select id={id} value={role} onChange={(e) => setRole(e.target.value)}><option>reader</option><option>member</option><option>admin</option></select>}</Field>
          <button type="submit" disabled={act.busy}>Create user</button>
        </form>
      ) : null}
    </section>
  );
}

function AccessKeys() {
  const { client, me, canWrite } = useApp();
  const keys = useAsync(() => client.accessKeys.list(), [client]);
  const [secret, setSecret] = useState<{ id: string; secret: string } | undefined>();
  const [description, setDescription] = useState('');
  const act = useAction();
  return (
    <section className="card" aria-labelledby="h-keys">
      <h2 id="h-keys">S3 access keys in {me.project}</h2>
      <ErrorBox error={keys.error ?? act.error} />
      {secret ? (
        <div className="secret" role="status" data-testid="new-secret">
          <p><strong>Save this secret now: it is shown once and never again.</strong></p>
          <p>Access key id: <code>{secret.id}</code> <Copy text={secret.id} /></p>
          <p>Secret access key: <code data-testid="secret-value">{secret.secret}</code> <Copy text={secret.secret} /></p>
          <button type="button" className="ghost small" onClick={() => setSecret(undefined)}>I have saved it</button>
        </div>
      ) : null}
      <Table label="Access keys" rows={keys.data?.items ?? []} rowKey={(k) => k.accessKeyId}
        cols={[
          { title: 'Access key id', cell: (k) => <code>{k.accessKeyId}</code> },
          { title: 'Description', cell: (k) => String((k as { description?: string }).description ?? '') },
          { title: 'Created', cell: (k) => ago(k.createdAt) },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (k: { accessKeyId: string }) => (
            <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete access key ${k.accessKeyId}?`)) void act.run(async () => { await client.accessKeys.delete(k.accessKeyId); keys.reload(); }); }}>Delete</button>
          ) }] : []),
        ]} />
      {canWrite ? (
        <form className="inline" aria-label="Create an access key" onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            const k = await client.accessKeys.create(description || undefined);
            setSecret({ id: k.accessKeyId, secret: k.secretAccessKey });
            setDescription('');
            keys.reload();
          });
        }}>
          <Field label="Description">{(id) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} placeholder="backup job" />}</Field>
          <button type="submit" disabled={act.busy}>Create access key</button>
        </form>
      ) : null}
    </section>
  );
}

const SAMPLE = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['*'] }] }, null, 2);

function Policies() {
  const { client, me, canWrite } = useApp();
  const policies = useAsync(() => client.policies.list(), [client]);
  const [name, setName] = useState('');
  const [doc, setDoc] = useState(SAMPLE);
  const [attach, setAttach] = useState<Record<string, string>>({});
  const act = useAction();
  return (
    <section className="card" aria-labelledby="h-pol">
      <h2 id="h-pol">Policies in {me.project}</h2>
      <ErrorBox error={policies.error ?? act.error} />
      <Table label="Policies" rows={policies.data?.items ?? []} rowKey={(p) => p.name}
        cols={[
          { title: 'Name', cell: (p) => p.name },
          { title: 'Attached to', cell: (p) => p.attachedTo.join(', ') || '—' },
          { title: 'Document', cell: (p) => <details><summary>show</summary><pre>{JSON.stringify(p.document, null, 2)}</pre></details> },
          ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (p: { name: string }) => (
            <span className="row-form">
              <input aria-label={`User to attach ${p.name} to`} placeholder="user" value={attach[p.name] ?? ''} onChange={(e) => setAttach({ ...attach, [p.name]: e.target.value })} />
              <button type="button" className="small" onClick={() => void act.run(async () => { await client.policies.attach(p.name, attach[p.name] ?? ''); policies.reload(); })}>Attach</button>
              <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete policy ${p.name}?`)) void act.run(async () => { await client.policies.delete(p.name); policies.reload(); }); }}>Delete</button>
            </span>
          ) }] : []),
        ]} />
      {canWrite ? (
        <form aria-label="Create a policy" onSubmit={(e) => {
          e.preventDefault();
          void act.run(async () => {
            let parsed: unknown;
            try { parsed = JSON.parse(doc); } catch (err) { throw new Error(`document: not JSON (${(err as Error).message})`); }
            await client.policies.create(name, parsed);
            setName('');
            policies.reload();
          });
        }}>
          <Field label="Policy name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
          <Field label="Document (IAM JSON)">{(id) => <textarea id={id} rows={8} className="mono" value={doc} onChange={(e) => setDoc(e.target.value)} />}</Field>
          <button type="submit" disabled={act.busy}>Create policy</button>
        </form>
      ) : null}
    </section>
  );
}

function Quotas() {
  const { client, me } = useApp();
  const quotas = useAsync(() => client.quotas.show(), [client]);
  const [edit, setEdit] = useState<Record<string, string>>({});
  const act = useAction();
  return (
    <section className="card" aria-labelledby="h-q">
      <h2 id="h-q">Quotas of {quotas.data?.project ?? me.project}</h2>
      <ErrorBox error={quotas.error ?? act.error} />
      <Table label="Quotas" rows={quotas.data?.items ?? []} rowKey={(q) => q.resource}
        cols={[
          { title: 'Resource', cell: (q) => q.resource },
          { title: 'Used', cell: (q) => q.used, className: 'num' },
          { title: 'Limit', className: 'num', cell: (q) => (me.isAdmin ? (
            <span className="row-form">
              <input type="number" min={-1} aria-label={`Limit for ${q.resource}`} value={edit[q.resource] ?? String(q.limit)} onChange={(e) => setEdit({ ...edit, [q.resource]: e.target.value })} />
              <button type="button" className="small" disabled={act.busy || edit[q.resource] === undefined} onClick={() => void act.run(async () => { await client.quotas.set(q.resource, Number(edit[q.resource])); setEdit({}); quotas.reload(); })}>Set</button>
            </span>
          ) : (q.limit < 0 ? 'no limit' : q.limit)) },
        ]} />
      <p className="muted">-1 means no limit. Only cloud admins change quotas.</p>
    </section>
  );
}
