/**
 * The console's session: a bearer token from `POST /v1/auth/login` and the
 * chosen project. Only the token (which expires) and the project name are
 * kept in localStorage; access-key secrets and passwords never are.
 * Requests carry the token in a header, never a cookie, so they cannot be
 * forged cross-site.
 */
import { YunClient } from '../../src/sdk/client.ts';

export interface SavedSession { token: string; expiresAt: string; user: string; project: string }

const KEY = 'yun.session';

export function loadSession(): SavedSession | undefined {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as SavedSession | null;
    if (!s?.token || Date.parse(s.expiresAt) <= Date.now()) { localStorage.removeItem(KEY); return undefined; }
    return s;
  } catch {
    return undefined;
  }
}

export function saveSession(s: SavedSession | undefined): void {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

/**
 * A client bound to the page's origin. `onUnauthenticated` runs when the API
 * answers 401 (token expired or revoked), so the app can return to login.
 */
export function makeClient(s: { token?: string; project?: string }, onUnauthenticated: () => void): YunClient {
  const f: typeof fetch = async (input, init) => {
    const res = await window.fetch(input, init);
    if (res.status === 401 && s.token) onUnauthenticated();
    return res;
  };
  return new YunClient({ endpoint: window.location.origin, token: s.token, project: s.project, fetch: f });
}
