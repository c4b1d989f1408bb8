import { BlockList, isIPv4 } from 'node:net';
import { invalid } from '../core/errors.ts';

/**
 * IAM-style JSON policies. Evaluation follows AWS: an explicit Deny in any
 * statement wins, then any Allow, else the implicit deny. Within a Condition
 * block, operators and keys AND together; the values of one key OR.
 */
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | number | boolean | (string | number | boolean)[]>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export type Decision = 'allow' | 'deny' | 'implicit-deny';
export type ConditionContext = Record<string, string | number | boolean | undefined>;

const OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'IpAddress', 'NotIpAddress', 'Null',
]);

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Validates shape and names the offending field; returns the normalised document. */
export function validatePolicy(doc: unknown, field = '/document'): PolicyDocument {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(field, 'policy document must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'Version' && k !== 'Statement' && k !== 'Id') throw invalid(`${field}/${k}`, `unknown policy field '${k}'`);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw invalid(`${field}/Version`, 'Version must be 2012-10-17');
  const stmts = list(d.Statement as PolicyStatement | PolicyStatement[]);
  if (stmts.length === 0) throw invalid(`${field}/Statement`, 'at least one Statement is required');
  stmts.forEach((s, i) => {
    const f = `${field}/Statement/${i}`;
    if (typeof s !== 'object' || s === null) throw invalid(f, 'statement must be an object');
    for (const k of Object.keys(s)) {
      if (!['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition', 'Principal', 'NotPrincipal'].includes(k)) throw invalid(`${f}/${k}`, `unknown statement field '${k}'`);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw invalid(`${f}/Effect`, "Effect must be 'Allow' or 'Deny'");
    if (!s.Action && !s.NotAction) throw invalid(`${f}/Action`, 'Action or NotAction is required');
    for (const a of [...list(s.Action), ...list(s.NotAction)]) {
      if (typeof a !== 'string' || !(a === '*' || /^[a-zA-Z0-9-]+:[A-Za-z0-9*?]+$/.test(a))) throw invalid(`${f}/Action`, `invalid action '${String(a)}'`);
    }
    for (const r of [...list(s.Resource), ...list(s.NotResource)]) if (typeof r !== 'string') throw invalid(`${f}/Resource`, 'Resource must be a string or list of strings');
    if (s.Condition !== undefined) {
      if (typeof s.Condition !== 'object' || s.Condition === null) throw invalid(`${f}/Condition`, 'Condition must be an object');
      for (const [op, block] of Object.entries(s.Condition)) {
        const base = op.replace(/^ForAnyValue:|^ForAllValues:/, '').replace(/IfExists$/, '');
        if (!OPERATORS.has(base)) throw invalid(`${f}/Condition/${op}`, `unknown condition operator '${op}'`);
        if (typeof block !== 'object' || block === null) throw invalid(`${f}/Condition/${op}`, 'condition block must be an object');
      }
    }
  });
  return d as unknown as PolicyDocument;
}

/** `*` any run, `?` one character; IAM matching. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === '*') return true;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, ignoreCase ? 'is' : 's');
  return re.test(value);
}

function ipMatches(cidr: string, ip: string): boolean {
  const bl = new BlockList();
  const [net, bits] = cidr.split('/');
  const v6 = !isIPv4(net ?? '');
  if (bits !== undefined) bl.addSubnet(net!, Number(bits), v6 ? 'ipv6' : 'ipv4');
  else bl.addAddress(net!, v6 ? 'ipv6' : 'ipv4');
  return bl.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

function testOne(base: string, expected: string, actual: string | number | boolean): boolean {
  const a = String(actual);
  switch (base) {
    case 'StringEquals': return a === expected;
    case 'StringNotEquals': return a !== expected;
    case 'StringEqualsIgnoreCase': return a.toLowerCase() === expected.toLowerCase();
    case 'StringNotEqualsIgnoreCase': return a.toLowerCase() !== expected.toLowerCase();
    case 'StringLike': return wildcardMatch(expected, a);
    case 'StringNotLike': return !wildcardMatch(expected, a);
    case 'NumericEquals': return Number(a) === Number(expected);
    case 'NumericNotEquals': return Number(a) !== Number(expected);
    case 'NumericLessThan': return Number(a) < Number(expected);
    case 'NumericLessThanEquals': return Number(a) <= Number(expected);
    case 'NumericGreaterThan': return Number(a) > Number(expected);
    case 'NumericGreaterThanEquals': return Number(a) >= Number(expected);
    case 'DateEquals': return Date.parse(a) === Date.parse(expected);
    case 'DateNotEquals': return Date.parse(a) !== Date.parse(expected);
    case 'DateLessThan': return Date.parse(a) < Date.parse(expected);
    case 'DateLessThanEquals': return Date.parse(a) <= Date.parse(expected);
    case 'DateGreaterThan': return Date.parse(a) > Date.parse(expected);
    case 'DateGreaterThanEquals': return Date.parse(a) >= Date.parse(expected);
    case 'Bool': return a.toLowerCase() === expected.toLowerCase();
    case 'IpAddress': try { return ipMatches(expected, a); } catch { return false; }
    case 'NotIpAddress': try { return !ipMatches(expected, a); } catch { return false; }
    default: return false;
  }
}

const NEGATED = new Set(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'NumericNotEquals', 'DateNotEquals', 'NotIpAddress']);

function conditionHolds(cond: PolicyStatement['Condition'], ctx: ConditionContext): boolean {
  if (!cond) return true;
  const lower: Record<string, string | number | boolean | undefined> = {};
  for (const [k, v] of Object.entries(ctx)) lower[k.toLowerCase()] = v;
  for (const [op, block] of Object.entries(cond)) {
    const ifExists = op.endsWith('IfExists');
    const base = op.replace(/^ForAnyValue:|^ForAllValues:/, '').replace(/IfExists$/, '');
    for (const [key, values] of Object.entries(block)) {
      const actual = lower[key.toLowerCase()];
      const vals = list(values).map(String);
      if (base === 'Null') {
        if ((actual === undefined) !== (vals[0] === 'true')) return false;
        continue;
      }
      if (actual === undefined) {
        if (ifExists) continue;
        return false;
      }
      // Negated operators must hold for every value; the others for any (OR).
      const ok = NEGATED.has(base) ? vals.every((v) => testOne(base, v, actual)) : vals.some((v) => testOne(base, v, actual));
      if (!ok) return false;
    }
  }
  return true;
}

function statementApplies(s: PolicyStatement, action: string, resource: string, ctx: ConditionContext): boolean {
  const actionOk = s.Action !== undefined
    ? list(s.Action).some((p) => wildcardMatch(p, action, true))
    : !list(s.NotAction).some((p) => wildcardMatch(p, action, true));
  if (!actionOk) return false;
  const resOk = s.NotResource !== undefined
    ? !list(s.NotResource).some((p) => wildcardMatch(p, resource))
    : s.Resource === undefined || list(s.Resource).some((p) => wildcardMatch(p, resource));
  return resOk && conditionHolds(s.Condition, ctx);
}

export function evaluatePolicies(docs: readonly PolicyDocument[], action: string, resource: string, ctx: ConditionContext = {}): Decision {
  let allowed = false;
  for (const d of docs) {
    for (const s of list(d.Statement)) {
      if (!statementApplies(s, action, resource, ctx)) continue;
      if (s.Effect === 'Deny') return 'deny';
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'implicit-deny';
}
