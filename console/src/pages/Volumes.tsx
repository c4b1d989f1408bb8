import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { useAsync, useLiveList } from '../hooks.ts';
import { Dialog, ErrorBox, Field, FormErrors, PageHead, State, Table, ago, bytes, useAction } from '../ui.tsx';

type Volume = Resource<{ sizeGb: number; type?: string; fromSnapshot?: string; fromImage?: string; attachment?: { instance: string; mountPath?: string } }, { state?: string; reason?: string; allocatedBytes?: number; attachment?: { instance: string; mountPath?: string; serial?: string; kind: string } }>;
type Snapshot = Resource<{ volume: string; description?: string }, { state?: string; sizeBytes?: number }>;

/** Volumes and snapshots: create, attach/detach, extend, snapshot, delete. */
export function Volumes() {
  const { client, canWrite, has } = useApp();
  const volumes = useLiveList<Volume>('volumes', 'volume');
  const images = useAsync(async () => (has('/v1/images') ? (await client.resource<unknown, { state?: string }>('images').listAll()).filter((i) => i.status.state === 'available') : []), [client]);
  const snapshots = useLiveList<Snapshot>('volume-snapshots', 'volume-snapshot');
  const act = useAction();
  const [f, setF] = useState({ name: '', sizeGb: '1', type: 'file', source: 'blank' as 'blank' | 'snapshot' | 'image', fromSnapshot: '', fromImage: '' });
  const [attaching, setAttaching] = useState<string | undefined>();
  const [extending, setExtending] = useState<Volume | undefined>();
  const vol = (n: string, a: string) => `/v1/volumes/${encodeURIComponent(n)}/actions/${a}`;
  return (
    <div>
      <PageHead title="Volumes" />
      <ErrorBox error={volumes.error ?? snapshots.error ?? act.error} />
      <section className="card" aria-labelledby="h-vol">
        <h2 id="h-vol">Volumes</h2>
        <Table label="Volumes" rows={volumes.data ?? []} rowKey={(v) => v.name} empty="No volumes in this project."
          cols={[
            { title: 'Name', cell: (v) => v.name },
            { title: 'State', cell: (v) => <State state={v.deletionTimestamp ? 'deleting' : v.status.state} /> },
            { title: 'Size', cell: (v) => `${v.spec.sizeGb} GB`, className: 'num' },
            { title: 'Used', cell: (v) => bytes(v.status.allocatedBytes), className: 'num' },
            { title: 'Type', cell: (v) => v.spec.type ?? 'file' },
            { title: 'Source', cell: (v) => (v.spec.fromImage ? `image ${v.spec.fromImage}` : v.spec.fromSnapshot ? `snapshot ${v.spec.fromSnapshot}` : 'blank') },
            { title: 'Attached to', cell: (v) => (v.status.attachment ? `${v.status.attachment.instance}${v.status.attachment.mountPath ? ` at ${v.status.attachment.mountPath}` : ''}` : v.spec.attachment ? `→ ${v.spec.attachment.instance}` : '—') },
            { title: 'Created', cell: (v) => ago(v.createdAt) },
            ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (v: Volume) => (
              <span className="row-form">
                {v.spec.attachment
                  ? <button type="button" className="small" onClick={() => void act.run(() => client.request('POST', vol(v.name, 'detach'), { body: {} }))}>Detach</button>
                  : <button type="button" className="small" onClick={() => setAttaching(v.name)}>Attach</button>}
                <button type="button" className="small ghost" onClick={() => setExtending(v)}>Extend</button>
                <button type="button" className="small ghost" title={v.status.attachment ? `in use by ${v.status.attachment.instance}: a live, crash-consistent snapshot` : undefined} onClick={() => void act.run(() => client.resource('volume-snapshots').create(`${v.name}-${Date.now().toString(36)}`, { volume: v.name }))}>Snapshot</button>
                <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete volume ${v.name}?`)) void act.run(() => client.resource('volumes').delete(v.name)); }}>Delete</button>
              </span>
            ) }] : []),
          ]} />
        {canWrite ? (
          <form className="inline" aria-label="Create a volume" onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              const from = f.source === 'snapshot' && f.fromSnapshot ? { fromSnapshot: f.fromSnapshot } : f.source === 'image' && f.fromImage ? { fromImage: f.fromImage } : {};
              // A volume from a snapshot takes the snapshot's type; the API refuses a different one.
              await client.resource('volumes').create(f.name, { sizeGb: Number(f.sizeGb), ...(f.source === 'snapshot' ? {} : { type: f.type }), ...from });
              setF({ ...f, name: '' });
            });
          }}>
            <FormErrors error={act.error}>
              <Field label="Volume name" name="name">{(id, a) => <input id={id} {...a} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} required />}</Field>
              <Field label="Size (GB)" name="sizeGb">{(id, a) => <input id={id} {...a} type="number" min={1} value={f.sizeGb} onChange={(e) => setF({ ...f, sizeGb: e.target.value })} required />}</Field>
              {f.source !== 'snapshot' ? <Field label="Type" name="type">{(id, a) => <select id={id} {...a} value={f.type} onChange={(e) => setF({ ...f, type: e.target.value })}><option value="file">file (containers and VMs)</option><option value="qcow2">qcow2 (VMs)</option></select>}</Field> : null}
              <Field label="Source">{(id) => <select id={id} value={f.source} onChange={(e) => setF({ ...f, source: e.target.value as typeof f.source })}><option value="blank">blank</option><option value="snapshot">a snapshot</option>{images.data?.length ? <option value="image">an image</option> : null}</select>}</Field>
              {f.source === 'snapshot' ? <Field label="From snapshot" name="fromSnapshot">{(id, a) => <select id={id} {...a} value={f.fromSnapshot} onChange={(e) => setF({ ...f, fromSnapshot: e.target.value })} required><option value="">choose…</option>{(snapshots.data ?? []).map((s) => <option key={s.name}>{s.name}</option>)}</select>}</Field> : null}
              {f.source === 'image' ? <Field label="From image" name="fromImage" hint="a VM disk is copied; a container image's files land on ext4">{(id, a) => <select id={id} {...a} value={f.fromImage} onChange={(e) => setF({ ...f, fromImage: e.target.value })} required><option value="">choose…</option>{(images.data ?? []).map((i) => <option key={i.name}>{i.name}</option>)}</select>}</Field> : null}
            </FormErrors>
            <button type="submit" disabled={act.busy}>Create volume</button>
          </form>
        ) : null}
      </section>
      <section className="card" aria-labelledby="h-snap">
        <h2 id="h-snap">Snapshots</h2>
        <Table label="Snapshots" rows={snapshots.data ?? []} rowKey={(s) => s.name} empty="No snapshots."
          cols={[
            { title: 'Name', cell: (s) => s.name },
            { title: 'State', cell: (s) => <State state={s.deletionTimestamp ? 'deleting' : s.status.state} /> },
            { title: 'Volume', cell: (s) => s.spec.volume },
            { title: 'Size', cell: (s) => bytes(s.status.sizeBytes), className: 'num' },
            { title: 'Created', cell: (s) => ago(s.createdAt) },
            ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (s: Snapshot) => <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete snapshot ${s.name}?`)) void act.run(() => client.resource('volume-snapshots').delete(s.name)); }}>Delete</button> }] : []),
          ]} />
      </section>
      {attaching ? <Attach name={attaching} onClose={() => setAttaching(undefined)} /> : null}
      {extending ? <Extend v={extending} onClose={() => setExtending(undefined)} /> : null}
    </div>
  );
}

function Attach({ name, onClose }: { name: string; onClose(): void }) {
  const { client } = useApp();
  const instances = useLiveList<Resource>('instances', 'instance');
  const [instance, setInstance] = useState('');
  const [mountPath, setMountPath] = useState('');
  const act = useAction();
  return (
    <Dialog title={`Attach ${name}`} open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.request('POST', `/v1/volumes/${encodeURIComponent(name)}/actions/attach`, { body: { instance, ...(mountPath ? { mountPath } : {}) } }); onClose(); }); }}>
        <Field label="Instance">{(id) => <select id={id} value={instance} onChange={(e) => setInstance(e.target.value)} required><option value="">choose…</option>{(instances.data ?? []).map((i) => <option key={i.name}>{i.name}</option>)}</select>}</Field>
        <Field label="Mount path (containers)" hint={`default /mnt/${name}; VMs see a virtio disk`}>{(id) => <input id={id} value={mountPath} onChange={(e) => setMountPath(e.target.value)} placeholder={`/mnt/${name}`} />}</Field>
        <ErrorBox error={act.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy || !instance}>Attach</button></div>
      </form>
    </Dialog>
  );
}

function Extend({ v, onClose }: { v: Volume; onClose(): void }) {
  const { client } = useApp();
  const [size, setSize] = useState(String(v.spec.sizeGb + 1));
  const act = useAction();
  return (
    <Dialog title={`Extend ${v.name}`} open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.request('POST', `/v1/volumes/${encodeURIComponent(v.name)}/actions/extend`, { body: { sizeGb: Number(size) } }); onClose(); }); }}>
        <Field label="New size (GB)" hint={`now ${v.spec.sizeGb} GB; volumes only grow`}>{(id) => <input id={id} type="number" min={v.spec.sizeGb + 1} value={size} onChange={(e) => setSize(e.target.value)} />}</Field>
        <ErrorBox error={act.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy}>Extend</button></div>
      </form>
    </Dialog>
  );
}
