import { useState } from 'react';
import { useApp } from '../app-context.ts';
import { useAsync } from '../hooks.ts';
import { Dialog, ErrorBox, Field, useAction } from '../ui.tsx';

/** Chooses the project every page acts in (`X-Yun-Project`); admins can create one. */
export function ProjectSwitcher() {
  const { client, me, setProject } = useApp();
  const projects = useAsync(() => client.projects.list(), [client]);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const act = useAction();
  const names = (projects.data?.items ?? []).map((p) => p.name).filter((n) => !n.startsWith('_'));
  if (me.project && !names.includes(me.project)) names.unshift(me.project);
  return (
    <div className="switcher">
      <label htmlFor="project-switch" className="muted">Project</label>
      <select
        id="project-switch"
        value={me.project ?? ''}
        onChange={(e) => { if (e.target.value === '+') setCreating(true); else setProject(e.target.value); }}
      >
        {names.map((n) => <option key={n} value={n}>{n}</option>)}
        {me.isAdmin ? <option value="+">+ New project…</option> : null}
      </select>
      <Dialog title="New project" open={creating} onClose={() => { setCreating(false); act.clear(); }}>
        <form onSubmit={(e) => { e.preventDefault(); void act.run(async () => { await client.projects.create(name); setCreating(false); setProject(name); }); }}>
          <Field label="Name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9][a-z0-9-]*" />}</Field>
          <ErrorBox error={act.error} />
          <button type="submit" disabled={act.busy}>Create project</button>
        </form>
      </Dialog>
    </div>
  );
}
