import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return Array.isArray(v) ? v.map(cell).join(',') : Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${cell(x)}`).join(',');
  return String(v);
}

/** Renders rows as an aligned text table with upper-case headers. */
export function table(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const data = rows.map((r) => cols.map((c) => cell(c.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r))));
  const heads = cols.map((c) => c.split('.').pop()!.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase());
  const widths = heads.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(heads), ...data.map(line)].join('\n');
}

/** Prints a value in the chosen format; tables use `columns` (dotted paths allowed). */
export function print(value: unknown, format: OutputFormat, columns?: string[]): void {
  if (format === 'json') return void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  if (format === 'yaml') return void process.stdout.write(stringify(value));
  if (Array.isArray(value)) return void process.stdout.write(`${table(value as Record<string, unknown>[], columns)}\n`);
  if (value && typeof value === 'object') {
    const rows = Object.entries(value as Record<string, unknown>).filter(([k]) => !columns || columns.includes(k));
    const w = Math.max(...rows.map(([k]) => k.length));
    return void process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : cell(v)}`).join('\n')}\n`);
  }
  process.stdout.write(`${cell(value)}\n`);
}
