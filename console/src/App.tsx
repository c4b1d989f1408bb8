import { type ReactNode, useCallback, useEffect, useMemo, useState } from 'react';
import { AppContext, type AppState, type Me } from './app-context.ts';
import { EventHub } from './events.ts';
import { Link, match, usePath } from './router.tsx';
import { type SavedSession, loadSession, makeClient, saveSession } from './session.ts';
import { ErrorBox } from './ui.tsx';
import { Login } from './pages/Login.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { Identity } from './pages/Identity.tsx';
import { Instances } from './pages/Instances.tsx';
import { InstanceDetail } from './pages/InstanceDetail.tsx';
import { Networks } from './pages/Networks.tsx';
import { Images } from './pages/Images.tsx';
import { ProjectSwitcher } from './pages/ProjectSwitcher.tsx';
import { Volumes } from './pages/Volumes.tsx';
import { Buckets } from './pages/Buckets.tsx';
import { releaseS3 } from './s3.ts';
import { Cost } from './pages/Cost.tsx';
import { Apps } from './pages/Apps.tsx';
import { AppDetail } from './pages/AppDetail.tsx';
import { Monitoring } from './pages/Monitoring.tsx';

/** Each page appears when the API it drives is part of this cloud (its path is in the OpenAPI document). */
const NAV: { to: string; label: string; needs?: string }[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/instances', label: 'Instances', needs: '/v1/instances' },
  { to: '/images', label: 'Images & flavors', needs: '/v1/images' },
  { to: '/buckets', label: 'Buckets', needs: 's3' },
  { to: '/volumes', label: 'Volumes', needs: '/v1/volumes' },
  { to: '/networks', label: 'Networking', needs: '/v1/networks' },
  { to: '/apps', label: 'Apps', needs: '/v1/apps' },
  { to: '/monitoring', label: 'Monitoring', needs: '/v1/alarms' },
  { to: '/cost', label: 'Cost', needs: '/v1/invoices' },
  { to: '/identity', label: 'Identity' },
];

export function App() {
  const [session, setSession] = useState<SavedSession | undefined>(() => loadSession());
  const logout = useCallback(() => { saveSession(undefined); setSession(undefined); }, []);
  if (!session) {
    return <Login onLogin={(s) => { saveSession(s); setSession(s); }} />;
  }
  return <Shell key={`${session.token}:${session.project}`} session={session} logout={logout} setSession={(s) => { saveSession(s); setSession(s); }} />;
}

function Shell({ session, logout, setSession }: { session: SavedSession; logout(): void; setSession(s: SavedSession): void }) {
  const client = useMemo(() => makeClient(session, logout), [session, logout]);
  const hub = useMemo(() => new EventHub(client), [client]);
  const [me, setMe] = useState<Me | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    hub.start();
    return () => hub.close();
  }, [hub]);
  const [paths, setPaths] = useState<Set<string> | undefined>();
  useEffect(() => { client.whoami().then(setMe, setError); }, [client]);
  useEffect(() => {
    // S3 is not in the OpenAPI document: probe the console's tunnel to it (502/404 when this cloud has none).
    const s3 = fetch('/s3/', { method: 'HEAD' }).then((r) => ![404, 502, 503].includes(r.status), () => false);
    client.request<{ paths: Record<string, unknown> }>('GET', '/v1/openapi.json').then(
      async (d) => setPaths(new Set([...Object.keys(d.paths), ...(await s3 ? ['s3'] : [])])),
      () => setPaths(new Set()),
    );
  }, [client]);
  const path = usePath();

  if (error) return <main className="center"><ErrorBox error={error} /><button type="button" onClick={logout}>Log in again</button></main>;
  if (!me || !paths) return <main className="center muted">Loading…</main>;

  const state: AppState = {
    client, hub, me,
    canWrite: me.isAdmin || (me.role !== undefined && me.role !== 'reader'),
    has: (p) => paths.has(p),
    setProject: (project) => setSession({ ...session, project }),
    logout: () => {
      void releaseS3(client).then(() => client.logout()).catch(() => undefined);
      logout();
    },
  };
  let page: ReactNode;
  let p: Record<string, string> | undefined;
  if (path === '/' || path === '/dashboard') page = <Dashboard />;
  else if (path === '/instances') page = <Instances />;
  else if ((p = match('/instances/:name', path))) page = <InstanceDetail name={p.name!} />;
  else if (path === '/images') page = <Images />;
  else if (path.startsWith('/networks')) page = <Networks tab={path.split('/')[2] ?? 'networks'} />;
  else if (path === '/buckets' || path.startsWith('/buckets/')) page = <Buckets path={path} />;
  else if (path === '/volumes') page = <Volumes />;
  else if (path.startsWith('/monitoring')) page = <Monitoring tab={path.split('/')[2] ?? 'alarms'} item={path.split('/')[3] ? decodeURIComponent(path.split('/')[3]!) : undefined} />;
  else if (path.startsWith('/cost')) page = <Cost tab={path.split('/')[2] ?? 'invoices'} />;
  else if (path === '/apps') page = <Apps />;
  else if ((p = match('/apps/:name', path))) page = <AppDetail name={p.name!} />;
  else if (path.startsWith('/identity')) page = <Identity tab={path.split('/')[2] ?? 'users'} />;
  else page = <div><h1>Not found</h1><p>No console page at {path}. <Link to="/">Go to the dashboard</Link>.</p></div>;

  return (
    <AppContext.Provider value={state}>
      <a className="skip" href="#content">Skip to content</a>
      <header className="top">
        <Link to="/" className="brand">yun</Link>
        <ProjectSwitcher />
        <div className="spacer" />
        <span className="who" data-testid="who">{me.user}{me.isAdmin ? ' · cloud admin' : me.role ? ` · ${me.role}` : ''}</span>
        <button type="button" className="ghost" onClick={state.logout}>Log out</button>
      </header>
      <div className="layout">
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.needs || paths.has(n.needs)).map((n) => {
              const on = n.to === '/' ? path === '/' : path.startsWith(n.to);
              return <li key={n.to}><Link to={n.to} aria-current={on ? 'page' : undefined} className={on ? 'on' : ''}>{n.label}</Link></li>;
            })}
          </ul>
        </nav>
        <main id="content" tabIndex={-1}>{page}</main>
      </div>
    </AppContext.Provider>
  );
}

