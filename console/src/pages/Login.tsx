import { useState } from 'react';
import type { SavedSession } from '../session.ts';
import { makeClient } from '../session.ts';
import { ErrorBox, Field, useAction } from '../ui.tsx';

export function Login({ onLogin }: { onLogin(s: SavedSession): void }) {
  const [user, setUser] = useState('admin');
  const [password, setPassword] = useState('');
  const act = useAction();
  const submit = async () => {
    const client = makeClient({}, () => undefined);
    const r = await client.login(user, password);
    // Start in the first project the user belongs to, `default` for admins.
    const who = await client.whoami();
    const project = who.memberships.find((m) => m.project === 'default')?.project ?? who.memberships[0]?.project ?? 'default';
    onLogin({ token: r.token, expiresAt: r.expiresAt, user: r.user, project });
  };
  return (
    <main className="login">
      <form
        aria-label="Log in"
        onSubmit={(e) => { e.preventDefault(); void act.run(submit); }}
      >
        <h1>yun</h1>
        <p className="muted">Log in to your cloud.</p>
        <Field label="User">{(id) => <input id={id} name="user" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} required />}</Field>
        <Field label="Password">{(id) => <input id={id} name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />}</Field>
        <ErrorBox error={act.error} />
        <button type="submit" disabled={act.busy}>{act.busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  );
}
