/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week),
 * evaluated in a named time zone: `*`, lists `1,2`, ranges `1-5`, steps
 * `*\/15` and `8-18/2`, day-of-week 0–7 (0 and 7 are Sunday). As in Vixie
 * cron, when both day fields are restricted a day matches either.
 */
import { invalid } from '../core/errors.ts';

export interface Cron { minute: Set<number>; hour: Set<number>; dom: Set<number>; month: Set<number>; dow: Set<number>; domAny: boolean; dowAny: boolean; source: string }

const FIELDS: [string, number, number][] = [['minute', 0, 59], ['hour', 0, 23], ['day of month', 1, 31], ['month', 1, 12], ['day of week', 0, 7]];

function field(text: string, [name, lo, hi]: [string, number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw invalid('/spec/schedules', `cron ${name}: '${part}' is not a number, range, list or step`);
    const step = m[4] ? Number(m[4]) : 1;
    const a = m[1] === '*' ? lo : Number(m[2]);
    const b = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] ? hi : a;
    if (a < lo || b > hi || a > b || step < 1) throw invalid('/spec/schedules', `cron ${name}: '${part}' is outside ${lo}-${hi}`);
    for (let v = a; v <= b; v += step) out.add(name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(expr: string): Cron {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw invalid('/spec/schedules', `cron '${expr}' needs 5 fields (minute hour day-of-month month day-of-week)`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => field(p, FIELDS[i]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { minute, hour, dom, month, dow, domAny: parts[2] === '*', dowAny: parts[4] === '*', source: expr };
}

const WD: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Wall-clock fields of `t` in `timeZone` (IANA name; default UTC). */
export function wallClock(t: number, timeZone = 'UTC'): { minute: number; hour: number; dom: number; month: number; dow: number } {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', minute: 'numeric', hour: 'numeric', day: 'numeric', month: 'numeric', weekday: 'short' });
  const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return { minute: Number(p.minute), hour: Number(p.hour), dom: Number(p.day), month: Number(p.month), dow: WD[p.weekday!] ?? 0 };
}

/** The cron fires in the minute containing `t`. */
export function cronMatches(c: Cron, t: number, timeZone?: string): boolean {
  const w = wallClock(t, timeZone);
  if (!c.minute.has(w.minute) || !c.hour.has(w.hour) || !c.month.has(w.month)) return false;
  const d = c.dom.has(w.dom);
  const wd = c.dow.has(w.dow);
  if (c.domAny || c.dowAny) return (c.domAny || d) && (c.dowAny || wd);
  return d || wd;
}

/** The last time the cron fired within `windowMs` before `t` (minute resolution), or undefined. */
export function lastFire(c: Cron, t: number, windowMs: number, timeZone?: string): number | undefined {
  const start = Math.floor(t / 60_000) * 60_000;
  for (let m = start; m > t - windowMs; m -= 60_000) if (cronMatches(c, m, timeZone)) return m;
  return undefined;
}
