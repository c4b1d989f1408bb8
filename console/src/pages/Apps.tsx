import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { useApp } from '../app-context.ts';
import { useLiveList } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { tarFiles } from '../tar.ts';
import { Dialog, ErrorBox, Field, PageHead, State, Table, ago, useAction } from '../ui.tsx';

export type AppResource = Resource<{ image?: string; source?: { runtime: string; sha256: string }; port: number; replicas: number; flavor?: string; command?: string[]; env?: Record<string, string> },
  { state?: string; message?: string; currentRevision?: number; replicas?: number; readyReplicas?: number; url?: string; replicaStatus?: { name: string; revision: number; state: string; ready: boolean; address?: string; restartCount?: number }[] }>;

export function Apps() {
  const { canWrite } = useApp();
  const list = useLiveList<AppResource>('apps', 'app');
  const [deploying, setDeploying] = useState(false);
  return (
    <div>
      <PageHead title="Apps">{canWrite ? <button type="button" onClick={() => setDeploying(true)}>Deploy app</button> : null}</PageHead>
      <ErrorBox error={list.error} />
      <Table label="Apps" rows={list.data ?? []} rowKey={(a) => a.name} empty="No apps in this project."
        cols={[
          { title: 'Name', cell: (a) => <Link to={`/apps/${encodeURIComponent(a.name)}`}>{a.name}</Link> },
          { title: 'State', cell: (a) => <State state={a.deletionTimestamp ? 'Deleting' : a.status.state} /> },
          { title: 'Ready', cell: (a) => `${a.status.readyReplicas ?? 0}/${a.spec.replicas}`, className: 'num' },
          { title: 'From', cell: (a) => a.spec.image ?? `${a.spec.source?.runtime ?? '?'} source` },
          { title: 'Revision', cell: (a) => a.status.currentRevision ?? '—', className: 'num' },
          { title: 'URL', cell: (a) => (a.status.url ? <a href={a.status.url} target="_blank" rel="noreferrer">{a.status.url}</a> : '—') },
          { title: 'Created', cell: (a) => ago(a.createdAt) },
        ]} />
      {deploying ? <Deploy onClose={() => setDeploying(false)} /> : null}
    </div>
  );
}

/** Deploy from an image in the image store, or from a source folder packed as tar in the browser. */
function Deploy({ onClose }: { onClose(): void }) {
  const { client } = useApp();
  const [from, setFrom] = useState<'image' | 'folder'>('image');
  const [f, setF] = useState({ name: '', image: '', port: '8080', replicas: '1', command: '', flavor: '' });
  const [files, setFiles] = useState<FileList | null>(null);
  const [progress, setProgress] = useState<string>();
  const act = useAction();
  const deploy = () => act.run(async () => {
    if (from === 'image') {
      const spec: Record<string, unknown> = { image: f.image, port: Number(f.port), replicas: Number(f.replicas) };
      if (f.command.trim()) spec.command = f.command.trim().split(/\s+/);
      if (f.flavor) spec.flavor = f.flavor;
      await client.resource('apps').create(f.name, spec);
    } else {
      if (!files?.length) throw new Error('choose a folder to upload');
      const list = [...files].map((file) => ({ file, path: (file.webkitRelativePath || file.name).split('/').slice(1).join('/') || file.name }));
      setProgress(`packing ${list.length} files…`);
      const tar = await tarFiles(list);
      setProgress(`uploading ${(tar.size / 1024).toFixed(0)} KiB…`);
      const q = new URLSearchParams({ port: f.port, replicas: f.replicas });
      const res = await fetch(`/v1/apps/${encodeURIComponent(f.name)}/source?${q}`, { method: 'POST', body: tar, headers: { authorization: `Bearer ${client.token}`, 'x-yun-project': client.project ?? '', 'content-type': 'application/x-tar' } });
      setProgress(undefined);
      if (!res.ok) {
        const p = await res.json().catch(() => ({})) as { detail?: string; code?: string };
        throw new Error(`${p.detail ?? res.statusText}${p.code ? ` (${p.code})` : ''}`);
      }
    }
    navigate(`/apps/${encodeURIComponent(f.name)}`);
  });
  return (
    <Dialog title="Deploy app" open onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void deploy(); }}>
        <Field label="App name">{(id) => <input id={id} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} required autoFocus />}</Field>
        <fieldset><legend>From</legend>
          <label className="check"><input type="radio" name="from" checked={from === 'image'} onChange={() => setFrom('image')} /> an image</label>
          <label className="check"><input type="radio" name="from" checked={from === 'folder'} onChange={() => setFrom('folder')} /> a source folder (Node.js, Python or static site)</label>
        </fieldset>
        {from === 'image'
          ? <>
              <Field label="Image">{(id) => <input id={id} value={f.image} onChange={(e) => setF({ ...f, image: e.target.value })} required />}</Field>
              <Field label="Command (optional)" hint="argv split on spaces">{(id) => <input id={id} value={f.command} onChange={(e) => setF({ ...f, command: e.target.value })} />}</Field>
            </>
          : <Field label="Folder">{(id) => <input id={id} type="file" {...{ webkitdirectory: '', directory: '' }} multiple onChange={(e) => setFiles(e.target.files)} />}</Field>}
        <Field label="Port" hint="the port the app listens on">{(id) => <input id={id} type="number" min={1} max={65535} value={f.port} onChange={(e) => setF({ ...f, port: e.target.value })} required />}</Field>
        <Field label="Replicas">{(id) => <input id={id} type="number" min={0} max={50} value={f.replicas} onChange={(e) => setF({ ...f, replicas: e.target.value })} required />}</Field>
        {progress ? <p className="muted" role="status">{progress}</p> : null}
        <ErrorBox error={act.error} />
        <div className="dialog-foot"><span /><button type="submit" disabled={act.busy}>{act.busy ? 'Deploying…' : 'Deploy'}</button></div>
      </form>
    </Dialog>
  );
}
