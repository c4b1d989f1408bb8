import { useEffect, useState } from 'react';
import { useApp } from '../app-context.ts';
import { useAsync } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { type S3Browser, s3For } from '../s3.ts';
import { Copy, ErrorBox, Field, PageHead, Table, ago, bytes, useAction } from '../ui.tsx';

/** `/buckets`, `/buckets/<bucket>`, `/buckets/<bucket>/<folder>/<folder>/` — bookmarkable folders. */
function parse(path: string): { bucket?: string; prefix: string } {
  const parts = path.split('/').slice(2);
  const bucket = parts[0] ? decodeURIComponent(parts[0]) : undefined;
  const rest = parts.slice(1).filter(Boolean).map(decodeURIComponent);
  return { bucket, prefix: rest.length ? `${rest.join('/')}/` : '' };
}
const folderPath = (bucket: string, prefix: string) => `/buckets/${encodeURIComponent(bucket)}/${prefix.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`;

export function Buckets({ path }: { path: string }) {
  const { client } = useApp();
  const s3 = useAsync(() => s3For(client), [client]);
  const { bucket, prefix } = parse(path);
  if (s3.error) return <div><PageHead title="Buckets" /><ErrorBox error={s3.error} /></div>;
  if (s3.loading) return <div><PageHead title="Buckets" /><p className="muted">Connecting to object storage…</p></div>;
  if (!s3.data) return <div><PageHead title="Buckets" /><p>This cloud has no S3 endpoint answering.</p></div>;
  return bucket ? <Browser s3={s3.data} bucket={bucket} prefix={prefix} /> : <BucketList s3={s3.data} />;
}

function BucketList({ s3 }: { s3: S3Browser }) {
  const { canWrite } = useApp();
  const list = useAsync(() => s3.buckets(), [s3]);
  const [name, setName] = useState('');
  const act = useAction();
  return (
    <div>
      <PageHead title="Buckets" />
      <section className="card">
        <ErrorBox error={list.error ?? act.error} />
        <Table label="Buckets" rows={list.data ?? []} rowKey={(b) => b.name} empty="No buckets in this project."
          cols={[
            { title: 'Name', cell: (b) => <Link to={`/buckets/${encodeURIComponent(b.name)}`}>{b.name}</Link> },
            { title: 'Created', cell: (b) => ago(b.created) },
            ...(canWrite ? [{ title: 'Actions', className: 'row-actions', cell: (b: { name: string }) => <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete bucket ${b.name}? It must be empty.`)) void act.run(async () => { await s3.deleteBucket(b.name); list.reload(); }); }}>Delete</button> }] : []),
          ]} />
        {canWrite ? (
          <form className="inline" aria-label="Create a bucket" onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await s3.createBucket(name); setName(''); list.reload(); }); }}>
            <Field label="Bucket name" hint="3-63 lowercase letters, digits, '-' and '.'">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
            <button type="submit" disabled={act.busy}>Create bucket</button>
          </form>
        ) : null}
        <p className="muted">Endpoint for S3 clients (aws-cli, boto3, rclone): <code>{s3.endpoint}</code>, with an access key from Identity → Access keys.</p>
      </section>
    </div>
  );
}

interface Upload { name: string; size: number; sent: number; error?: string; done?: boolean }

function Browser({ s3, bucket, prefix }: { s3: S3Browser; bucket: string; prefix: string }) {
  const { canWrite } = useApp();
  const list = useAsync(() => s3.list(bucket, prefix), [s3, bucket, prefix]);
  const versioning = useAsync(() => s3.versioning(bucket), [s3, bucket]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [drag, setDrag] = useState(false);
  const [share, setShare] = useState<{ key: string; url: string } | undefined>();
  const [folder, setFolder] = useState('');
  const act = useAction();
  useEffect(() => { setShare(undefined); }, [bucket, prefix]);

  const upload = async (files: File[]) => {
    const start = uploads.length;
    setUploads((u) => [...u, ...files.map((f) => ({ name: f.name, size: f.size, sent: 0 }))]);
    const set = (i: number, p: Partial<Upload>) => setUploads((u) => u.map((x, j) => (j === start + i ? { ...x, ...p } : x)));
    await Promise.all(files.map(async (f, i) => {
      try {
        await s3.upload(bucket, `${prefix}${f.name}`, f, (sent) => set(i, { sent }));
        set(i, { done: true, sent: f.size });
      } catch (e) { set(i, { error: (e as Error).message }); }
    }));
    list.reload();
  };
  const download = (key: string) => act.run(async () => {
    const a = document.createElement('a');
    a.href = await s3.downloadUrl(bucket, key);
    a.download = key.split('/').pop()!;
    document.body.append(a);
    a.click();
    a.remove();
  });
  const crumbs = prefix.split('/').filter(Boolean);
  return (
    <div
      onDragOver={(e) => { if (canWrite) { e.preventDefault(); setDrag(true); } }}
      onDragLeave={() => setDrag(false)}
      onDrop={(e) => { e.preventDefault(); setDrag(false); if (canWrite && e.dataTransfer.files.length) void upload([...e.dataTransfer.files]); }}
      className={drag ? 'dropping' : ''}
    >
      <p className="crumbs">
        <Link to="/buckets">Buckets</Link> / <Link to={folderPath(bucket, '')}>{bucket}</Link> /{' '}
        {crumbs.map((c, i) => <span key={crumbs.slice(0, i + 1).join('/')}><Link to={folderPath(bucket, `${crumbs.slice(0, i + 1).join('/')}/`)}>{c}</Link> / </span>)}
      </p>
      <PageHead title={prefix ? crumbs[crumbs.length - 1]! : bucket}>
        <span className="muted">versioning {versioning.data ?? '…'}</span>
        {canWrite && versioning.data ? <button type="button" className="ghost small" onClick={() => void act.run(async () => { await s3.setVersioning(bucket, versioning.data !== 'Enabled'); versioning.reload(); })}>{versioning.data === 'Enabled' ? 'Suspend versioning' : 'Enable versioning'}</button> : null}
        {canWrite ? <label className="button">Upload files<input type="file" multiple className="sr-only" aria-label="Upload files" onChange={(e) => { if (e.target.files?.length) void upload([...e.target.files]); e.target.value = ''; }} /></label> : null}
      </PageHead>
      <ErrorBox error={list.error ?? act.error} />
      {uploads.length ? (
        <ul className="plain uploads" aria-label="Uploads">
          {uploads.map((u, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: uploads only grow; the index is the identity
            <li key={i} data-upload={u.name}>
              <span>{u.name}</span>
              <progress max={u.size || 1} value={u.sent} aria-label={`Upload of ${u.name}`} />
              <span className={u.error ? 'bad' : 'muted'}>{u.error ?? (u.done ? 'done' : `${Math.round((u.sent / (u.size || 1)) * 100)}%`)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {share ? (
        <p className="secret" role="status">Link to <strong>{share.key}</strong>, valid 1 hour: <code data-testid="share-url">{share.url}</code> <Copy text={share.url} /></p>
      ) : null}
      <section className="card">
        {list.data ? (
          <Table label="Objects" rows={[...list.data.folders.map((f) => ({ folder: true, key: f, size: 0, modified: '' })), ...list.data.objects.filter((o) => o.key !== prefix).map((o) => ({ folder: false, ...o }))]}
            rowKey={(r) => r.key} empty={canWrite ? 'Empty. Drop files here or use Upload files.' : 'Empty.'}
            cols={[
              { title: 'Name', cell: (r) => (r.folder ? <Link to={folderPath(bucket, r.key)}>📁 {r.key.slice(prefix.length)}</Link> : r.key.slice(prefix.length)) },
              { title: 'Size', cell: (r) => (r.folder ? '' : bytes(r.size)), className: 'num' },
              { title: 'Modified', cell: (r) => (r.folder ? '' : ago(r.modified)) },
              { title: 'Actions', className: 'row-actions', cell: (r) => (r.folder ? null : (
                <span className="row-form">
                  <button type="button" className="small" onClick={() => void download(r.key)}>Download</button>
                  <button type="button" className="small ghost" onClick={() => void act.run(async () => setShare({ key: r.key, url: await s3.shareUrl(bucket, r.key) }))}>Share link</button>
                  {canWrite ? <button type="button" className="small ghost" onClick={() => { if (confirm(`Delete ${r.key}?`)) void act.run(async () => { await s3.deleteObject(bucket, r.key); list.reload(); }); }}>Delete</button> : null}
                </span>
              )) },
            ]} />
        ) : <p className="muted">Loading…</p>}
        {list.data?.truncated ? <p className="muted">Showing the first 5,000 entries.</p> : null}
        {canWrite ? (
          <form className="inline" aria-label="Open a new folder" onSubmit={(e) => { e.preventDefault(); if (folder) navigate(folderPath(bucket, `${prefix}${folder.replace(/^\/+|\/+$/g, '')}/`)); setFolder(''); }}>
            <Field label="New folder" hint="folders exist once something is uploaded into them">{(id) => <input id={id} value={folder} onChange={(e) => setFolder(e.target.value)} />}</Field>
            <button type="submit" className="ghost">Open folder</button>
          </form>
        ) : null}
      </section>
    </div>
  );
}
