import { invalid } from '../core/errors.ts';

/** One requirement of a Kubernetes-style label selector. */
export type LabelRequirement =
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'exists' | '!exists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** Parses `env=prod,tier!=db,app,!legacy,zone in (a,b)`. */
export function parseSelector(text: string | undefined, field = 'labelSelector'): LabelRequirement[] {
  if (!text) return [];
  const out: LabelRequirement[] = [];
  const parts = text.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      out.push({ key: checkKey(m[1]!, field), op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => checkValue(v.trim(), field)) });
    } else if ((m = p.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      out.push({ key: checkKey(m[1]!, field), op: m[2] === '!=' ? '!=' : '=', value: checkValue(m[3]!, field) });
    } else if ((m = p.match(/^!\s*(\S+)$/))) {
      out.push({ key: checkKey(m[1]!, field), op: '!exists' });
    } else {
      out.push({ key: checkKey(p, field), op: 'exists' });
    }
  }
  return out;
}

function checkKey(k: string, field: string): string {
  if (!KEY.test(k)) throw invalid(field, `invalid label key '${k}'`);
  return k;
}
function checkValue(v: string, field: string): string {
  if (!VALUE.test(v)) throw invalid(field, `invalid label value '${v}'`);
  return v;
}

export function matchesSelector(labels: Record<string, string>, reqs: LabelRequirement[]): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case '=': return v === r.value;
      case '!=': return v !== r.value;
      case 'exists': return has;
      case '!exists': return !has;
      case 'in': return has && r.values.includes(v!);
      case 'notin': return !has || !r.values.includes(v!);
      default: return false;
    }
  });
}

export function validateLabels(labels: unknown, field = '/labels'): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw invalid(field, 'labels must be an object of strings');
  for (const [k, v] of Object.entries(labels)) {
    if (!KEY.test(k)) throw invalid(`${field}/${k}`, `invalid label key '${k}'`);
    if (typeof v !== 'string' || !VALUE.test(v)) throw invalid(`${field}/${k}`, `invalid label value for '${k}'`);
  }
  return labels as Record<string, string>;
}
