import { createContext, useContext } from 'react';
import type { YunClient } from '../../src/sdk/client.ts';
import type { EventHub } from './events.ts';

export interface Me {
  user: string;
  isAdmin: boolean;
  project?: string;
  role?: string;
  memberships: { project: string; role: string }[];
}

export interface AppState {
  client: YunClient;
  hub: EventHub;
  me: Me;
  /** Members and admins write; readers only look (the API refuses them anyway). */
  canWrite: boolean;
  /** Whether this cloud serves an API path (from its OpenAPI document): pages for absent services hide. */
  has(path: string): boolean;
  setProject(name: string): void;
  logout(): void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const a = useContext(AppContext);
  if (!a) throw new Error('useApp outside AppContext');
  return a;
}
