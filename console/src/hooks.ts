import { useCallback, useEffect, useRef, useState } from 'react';
import type { Resource } from '../../src/core/resource.ts';
import { useApp } from './app-context.ts';

export interface Async<T> { data?: T; error?: unknown; loading: boolean; reload(): void }

/** Runs `load` on mount and whenever `deps` change. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => { if (live) setState({ data, loading: false }); },
      (error) => { if (live) setState({ error, loading: false }); },
    );
    return () => { live = false; };
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { ...state, reload };
}

/**
 * A resource list kept live: loaded once, then patched from the event
 * stream (ADDED/MODIFIED replace by id, DELETED removes) without reloading.
 * `plural` undefined: a kind this cloud lacks — an empty list, nothing loaded.
 */
export function useLiveList<R extends Resource<unknown, Record<string, unknown>>>(plural: string | undefined, kind: string): Async<R[]> {
  const { client, hub } = useApp();
  const [items, setItems] = useState<R[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [n, setN] = useState(0);
  useEffect(() => {
    if (plural === undefined) { setItems([]); return; }
    let live = true;
    const pending: { type: string; object: R }[] = [];
    let loaded = false;
    const apply = (list: R[], e: { type: string; object: R }) => {
      const rest = list.filter((x) => x.id !== e.object.id);
      if (e.type === 'DELETED') return rest;
      const i = list.findIndex((x) => x.id === e.object.id);
      // An event older than what the list already shows (raced with the first load) changes nothing.
      if (i >= 0 && list[i]!.resourceVersion > e.object.resourceVersion) return list;
      if (i >= 0) { const copy = [...list]; copy[i] = e.object; return copy; }
      return [...rest, e.object].sort((a, b) => a.name.localeCompare(b.name));
    };
    const off = hub.on(kind, (e) => {
      const ev = { type: e.type, object: e.object as unknown as R };
      if (!loaded) pending.push(ev);
      else setItems((list) => apply(list ?? [], ev));
    });
    client.resource(plural).listAll().then(
      (list) => {
        if (!live) return;
        loaded = true;
        let l = (list as unknown as R[]).sort((a, b) => a.name.localeCompare(b.name));
        for (const ev of pending) l = apply(l, ev);
        setItems(l);
        setError(undefined);
      },
      (e) => { if (live) setError(e); },
    );
    return () => { live = false; off(); };
  }, [client, hub, plural, kind, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data: items, error, loading: items === undefined && !error, reload };
}
