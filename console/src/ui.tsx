/** The console's few building blocks: plain elements, labelled for screen readers. */
import { type ReactNode, createContext, useContext, useEffect, useId, useRef, useState } from 'react';
import { YunApiError } from '../../src/sdk/client.ts';

/** An API error as a readable sentence, naming the field it concerns. */
export function describeError(e: unknown): { message: string; field?: string; code?: string } {
  if (e instanceof YunApiError) {
    const field = e.field ? e.field.replace(/^\/(spec\/)?/, '').replace(/\//g, '.') : undefined;
    return { message: e.message, field: field || undefined, code: e.code };
  }
  return { message: e instanceof Error ? e.message : String(e) };
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const d = describeError(error);
  return (
    <div className="error" role="alert">
      {d.field ? <strong>{d.field}: </strong> : null}
      {d.message}
      {d.code ? <span className="muted"> ({d.code})</span> : null}
    </div>
  );
}

export function State({ state }: { state?: string }) {
  const s = state ?? 'pending';
  const tone = /^(running|active|available|up|ready|healthy|OK|Active)$/.test(s) ? 'ok'
    : /^(error|failed|down|OOMKilled|ALARM|Failing|TargetMissing)$/.test(s) ? 'bad'
    : /^(stopped|exited)$/.test(s) ? 'off' : 'busy';
  return <span className={`state ${tone}`} data-state={s}>{s}</span>;
}

export function Table<T>({ rows, cols, empty, label, rowKey }: {
  rows: T[]; label: string; empty?: string; rowKey: (r: T) => string;
  cols: { title: string; cell: (r: T) => ReactNode; className?: string }[];
}) {
  if (!rows.length) return <p className="muted empty">{empty ?? 'Nothing here yet.'}</p>;
  return (
    <table aria-label={label}>
      <thead><tr>{cols.map((c) => <th key={c.title} scope="col" className={c.className}>{c.title}</th>)}</tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} data-row={rowKey(r)}>{cols.map((c) => <td key={c.title} className={c.className}>{c.cell(r)}</td>)}</tr>
        ))}
      </tbody>
    </table>
  );
}

/** The error a form last got from the API: fields named by its problem+json `field` mark themselves invalid. */
const FormErrorContext = createContext<unknown>(undefined);

export function FormErrors({ error, children }: { error: unknown; children: ReactNode }) {
  return <FormErrorContext.Provider value={error}>{children}</FormErrorContext.Provider>;
}

/** Whether an API field (`cidr`, `spec.networks.0`, `metrics.0.target`) concerns the form field `name` (`networks` covers `networks.0`). */
export function fieldMatches(apiField: string | undefined, name: string | undefined): boolean {
  if (!apiField || !name) return false;
  return apiField === name || apiField.startsWith(`${name}.`);
}

/** Props a control spreads to be marked invalid and described by its error message. */
export interface FieldA11y { 'aria-invalid'?: true; 'aria-describedby'?: string }

/**
 * A labelled form field. `name` is the API's name for it (the problem+json
 * `field`, without `/spec/`): when the enclosing `FormErrors` holds an error
 * for it, the control (which spreads the second argument) gets
 * `aria-invalid` and `aria-describedby` pointing at the message shown below it.
 */
export function Field({ label, children, hint, name }: { label: string; hint?: string; name?: string; children: (id: string, a11y: FieldA11y) => ReactNode }) {
  const id = useId();
  const error = useContext(FormErrorContext);
  const err = error ? describeError(error) : undefined;
  const bad = !!err && fieldMatches(err.field, name);
  const errId = `${id}-error`;
  const hintId = `${id}-hint`;
  const a11y: FieldA11y = bad ? { 'aria-invalid': true, 'aria-describedby': hint ? `${errId} ${hintId}` : errId } : hint ? { 'aria-describedby': hintId } : {};
  return (
    <div className={bad ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(id, a11y)}
      {bad ? <small id={errId} className="field-error">{err!.message}</small> : null}
      {hint ? <small id={hintId} className="muted">{hint}</small> : null}
    </div>
  );
}

/** A modal dialog on the native <dialog> element (focus trap and Escape for free). */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose(): void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      {open ? (
        <>
          <header className="dialog-head"><h2>{title}</h2><button type="button" className="ghost" aria-label="Close" onClick={onClose}>×</button></header>
          {children}
        </>
      ) : null}
    </dialog>
  );
}

/** Runs an async action, tracking busy state and the error to show. */
export function useAction(): { busy: boolean; error: unknown; run(fn: () => Promise<unknown>): Promise<boolean>; clear(): void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return {
    busy, error,
    clear: () => setError(undefined),
    run: async (fn) => {
      setBusy(true);
      setError(undefined);
      try { await fn(); return true; } catch (e) { setError(e); return false; } finally { setBusy(false); }
    },
  };
}

export function Copy({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" className="ghost small" onClick={() => { void navigator.clipboard?.writeText(text).then(() => setDone(true), () => undefined); }}>
      {done ? 'Copied' : label}
    </button>
  );
}

export function Meter({ label, used, total, unit }: { label: string; used: number; total: number; unit: string }) {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <div className="meter">
      <div className="meter-label"><span>{label}</span><span className="muted">{fmt(used)} / {fmt(total)} {unit}</span></div>
      <div className="meter-bar" role="progressbar" aria-label={label} aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100}>
        <div style={{ width: `${pct}%` }} className={pct > 85 ? 'hot' : ''} />
      </div>
    </div>
  );
}

export const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

export function bytes(n?: number): string {
  if (n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

export function ago(iso?: string): string {
  if (!iso) return '—';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(0, s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}

export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  return <div className="page-head"><h1>{title}</h1><div className="actions">{children}</div></div>;
}

export function Tabs({ tabs, current, onSelect }: { tabs: { id: string; label: string }[]; current: string; onSelect(id: string): void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((t) => (
        <button key={t.id} type="button" role="tab" aria-selected={t.id === current} className={t.id === current ? 'on' : ''} onClick={() => onSelect(t.id)}>{t.label}</button>
      ))}
    </div>
  );
}
