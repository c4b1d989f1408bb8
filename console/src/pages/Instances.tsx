import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import type { InstanceResource } from '../../../src/sdk/compute.ts';
import { useApp } from '../app-context.ts';
import { useLiveList } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { ErrorBox, PageHead, State, Table, ago, useAction } from '../ui.tsx';
import { CreateInstance } from './CreateInstance.tsx';

type Flavor = Resource<{ vcpus: number; ramMb: number; diskGb: number }>;
export type { Flavor };

export function Instances() {
  const { client, canWrite } = useApp();
  const list = useLiveList<InstanceResource>('instances', 'instance');
  const [creating, setCreating] = useState(false);
  const act = useAction();
  const action = (name: string, a: 'start' | 'stop' | 'reboot') => act.run(() => client.request('POST', `/v1/instances/${encodeURIComponent(name)}/actions/${a}`, { body: {} }));
  return (
    <div>
      <PageHead title="Instances">
        {canWrite ? <button type="button" onClick={() => setCreating(true)}>Launch instance</button> : null}
      </PageHead>
      <ErrorBox error={list.error ?? act.error} />
      {list.data ? (
        <Table
          label="Instances"
          rows={list.data}
          rowKey={(r) => r.name}
          empty="No instances in this project. Launch one to get started."
          cols={[
            { title: 'Name', cell: (r) => <Link to={`/instances/${encodeURIComponent(r.name)}`}>{r.name}</Link> },
            { title: 'State', cell: (r) => <State state={r.deletionTimestamp ? 'deleting' : r.status.state} /> },
            { title: 'Type', cell: (r) => (r.spec.type === 'vm' ? 'VM' : 'container') },
            { title: 'Image', cell: (r) => r.spec.image },
            { title: 'Size', cell: (r) => r.spec.flavor ?? `${r.spec.size?.vcpus ?? r.spec.cpus ?? '?'} vCPU / ${r.spec.size?.ramMb ?? r.spec.memoryMb ?? '?'} MiB` },
            { title: 'Addresses', cell: (r) => (r.status.addresses ?? []).map((a) => `${a.ip} (${a.network})`).join(', ') || '—' },
            { title: 'Host', cell: (r) => r.status.host ?? '—' },
            { title: 'Created', cell: (r) => ago(r.createdAt) },
            ...(canWrite ? [{
              title: 'Actions', className: 'row-actions',
              cell: (r: InstanceResource) => r.spec.powerState === 'stopped'
                ? <button type="button" className="small" disabled={act.busy} onClick={() => void action(r.name, 'start')}>Start</button>
                : <button type="button" className="small" disabled={act.busy} onClick={() => void action(r.name, 'stop')}>Stop</button>,
            }] : []),
          ]}
        />
      ) : <p className="muted">Loading…</p>}
      {creating ? <CreateInstance onClose={() => setCreating(false)} onCreated={(n) => { setCreating(false); navigate(`/instances/${encodeURIComponent(n)}`); }} /> : null}
    </div>
  );
}
