import { useState } from 'react';
import type { ImageResource } from '../../../src/sdk/compute.ts';
import { useApp } from '../app-context.ts';
import { useAsync, useLiveList } from '../hooks.ts';
import { ErrorBox, Field, PageHead, State, Table, bytes, useAction } from '../ui.tsx';
import type { Flavor } from './Instances.tsx';

export function Images() {
  const { client, canWrite, me } = useApp();
  const images = useLiveList<ImageResource>('images', 'image');
  const flavors = useAsync(() => client.request<{ items: Flavor[] }>('GET', '/v1/flavors'), [client]);
  const [name, setName] = useState('');
  const [build, setBuild] = useState<'busybox' | 'node'>('busybox');
  const act = useAction();
  return (
    <div>
      <PageHead title="Images & flavors" />
      <section className="card" aria-labelledby="h-img">
        <h2 id="h-img">Images</h2>
        <ErrorBox error={images.error ?? act.error} />
        {images.data ? (
          <Table label="Images" rows={images.data} rowKey={(r) => r.name} empty="No images yet."
            cols={[
              { title: 'Name', cell: (r) => r.name },
              { title: 'State', cell: (r) => <State state={r.status.state} /> },
              { title: 'Source', cell: (r) => ('build' in r.spec.source ? `built: ${r.spec.source.build}` : `uploaded ${r.spec.source.upload}`) },
              { title: 'Size', cell: (r) => bytes(r.status.sizeBytes) },
              { title: 'Visibility', cell: (r) => (r.spec.public ? 'public' : 'project') },
              ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (r: ImageResource) => <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete image ${r.name}?`)) void act.run(() => client.resource('images').delete(r.name)); }}>Delete</button> }] : []),
            ]} />
        ) : <p className="muted">Loading…</p>}
        {canWrite ? (
          <form className="inline" aria-label="Build an image" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.request('POST', '/v1/images', { body: { name, spec: { source: { build } } } }); setName(''); }); }}>
            <Field label="New image name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
            <Field label="Built from host">{(id) => <select id={id} value={build} onChange={(e) => setBuild(e.target.value as 'busybox' | 'node')}><option value="busybox">busybox</option><option value="node">node</option></select>}</Field>
            <button type="submit" disabled={act.busy}>Build image</button>
          </form>
        ) : null}
      </section>
      <section className="card" aria-labelledby="h-fl">
        <h2 id="h-fl">Flavors {me.isAdmin ? null : <span className="muted">(set by cloud admins)</span>}</h2>
        <ErrorBox error={flavors.error} />
        <Table label="Flavors" rows={[...(flavors.data?.items ?? [])].sort((a, b) => a.spec.vcpus - b.spec.vcpus || a.spec.ramMb - b.spec.ramMb)} rowKey={(r) => r.name}
          cols={[
            { title: 'Name', cell: (r) => r.name },
            { title: 'vCPU', cell: (r) => r.spec.vcpus, className: 'num' },
            { title: 'RAM', cell: (r) => `${r.spec.ramMb} MiB`, className: 'num' },
            { title: 'Disk', cell: (r) => `${r.spec.diskGb} GB`, className: 'num' },
          ]} />
      </section>
    </div>
  );
}
