/**
 * Bucket policies (the IAM JSON policy language subset S3 bucket policies
 * use) and canned ACLs. Evaluation: any matching Deny → deny; else any
 * matching Allow → allow; else none. Statements whose Condition uses an
 * operator we do not know never match (fail closed for Allow) — and for
 * Deny statements they do match (fail closed again).
 */
import type { CannedAcl, Principal } from '../engine/types.ts';
import { S3Error } from './errors.ts';

export type PolicyDecision = 'allow' | 'deny' | 'none';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

const arr = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function globRe(pattern: string, caseInsensitive = false): RegExp {
  const esc = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, caseInsensitive ? 'is' : 's');
}

/** Validates a policy document for PutBucketPolicy (MalformedPolicy otherwise). */
export function validatePolicy(text: string, bucket: string): void {
  let doc: { Statement?: unknown };
  if (!text.trimStart().startsWith('{')) throw new S3Error('MalformedPolicy');
  try { doc = JSON.parse(text); } catch { throw new S3Error('MalformedPolicy', 'Policies must be valid JSON'); }
  const sts = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  if (sts.length === 0) throw new S3Error('MalformedPolicy', 'Missing required field Statement');
  for (const s of sts as Statement[]) {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new S3Error('MalformedPolicy', 'Invalid effect');
    if (!s.Action && !s.NotAction) throw new S3Error('MalformedPolicy', 'Missing required field Action');
    if (!s.Principal && !s.NotPrincipal) throw new S3Error('MalformedPolicy', 'Missing required field Principal');
    const res = [...arr(s.Resource), ...arr(s.NotResource)];
    if (res.length === 0) throw new S3Error('MalformedPolicy', 'Missing required field Resource');
    for (const r of res) {
      if (!r.startsWith(`arn:aws:s3:::${bucket}`) && r !== '*' && !globRe(r).test(`arn:aws:s3:::${bucket}`)) throw new S3Error('MalformedPolicy', 'Policy has invalid resource');
    }
    for (const a of [...arr(s.Action), ...arr(s.NotAction)]) if (a !== '*' && !/^s3:[A-Za-z*?]+$/.test(a)) throw new S3Error('MalformedPolicy', 'Policy has invalid action');
  }
}

function principalMatches(p: unknown, who: Principal | undefined): boolean {
  if (p === '*') return true;
  if (!p || typeof p !== 'object') return false;
  const aws = arr((p as { AWS?: string | string[] }).AWS);
  for (const a of aws) {
    if (a === '*') return true;
    if (!who) continue;
    if (a === who.projectId || a === `arn:aws:iam::${who.projectId}:root` || a === `arn:aws:iam::${who.projectId}:user/${who.userId}` || a === who.userId) return true;
  }
  return false;
}

function conditionMatches(cond: Statement['Condition'], ctx: Record<string, string>): boolean | 'unknown' {
  if (!cond) return true;
  for (const [op, kv] of Object.entries(cond)) {
    const base = op.replace(/IfExists$/, '');
    for (const [k, want] of Object.entries(kv)) {
      const have = ctx[k] ?? ctx[k.toLowerCase()];
      const wants = arr(want).map(String);
      if (have === undefined) { if (op.endsWith('IfExists')) continue; if (base.startsWith('StringNot')) continue; return false; }
      let ok: boolean;
      switch (base) {
        case 'StringEquals': ok = wants.includes(have); break;
        case 'StringNotEquals': ok = !wants.includes(have); break;
        case 'StringEqualsIgnoreCase': ok = wants.some((w) => w.toLowerCase() === have.toLowerCase()); break;
        case 'StringLike': ok = wants.some((w) => globRe(w).test(have)); break;
        case 'StringNotLike': ok = !wants.some((w) => globRe(w).test(have)); break;
        case 'Bool': ok = wants.some((w) => w.toLowerCase() === have.toLowerCase()); break;
        case 'NumericLessThanEquals': ok = wants.some((w) => Number(have) <= Number(w)); break;
        case 'NumericGreaterThanEquals': ok = wants.some((w) => Number(have) >= Number(w)); break;
        default: return 'unknown';
      }
      if (!ok) return false;
    }
  }
  return true;
}

export function evaluatePolicy(text: string | undefined, who: Principal | undefined, action: string, resource: string, ctx: Record<string, string>): PolicyDecision {
  if (!text) return 'none';
  let doc: { Statement?: Statement | Statement[] };
  try { doc = JSON.parse(text); } catch { return 'none'; }
  const sts = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  let allow = false;
  for (const s of sts) {
    if (s.Principal !== undefined && !principalMatches(s.Principal, who)) continue;
    if (s.NotPrincipal !== undefined && principalMatches(s.NotPrincipal, who)) continue;
    const actOk = s.Action !== undefined ? arr(s.Action).some((a) => globRe(a, true).test(action)) : !arr(s.NotAction).some((a) => globRe(a, true).test(action));
    if (!actOk) continue;
    const resOk = s.Resource !== undefined ? arr(s.Resource).some((r) => globRe(r).test(resource)) : !arr(s.NotResource).some((r) => globRe(r).test(resource));
    if (!resOk) continue;
    const c = conditionMatches(s.Condition, ctx);
    if (s.Effect === 'Deny' && c !== false) return 'deny';
    if (s.Effect === 'Allow' && c === true) allow = true;
  }
  return allow ? 'allow' : 'none';
}

const READ_BUCKET = new Set(['s3:ListBucket', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads']);
const READ_OBJECT = new Set(['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes', 's3:GetObjectVersionAttributes']);
const WRITE_BUCKET = new Set(['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);

/** What a canned ACL grants to others than the owner. `objectLevel` ACLs grant object reads; bucket ACLs grant listing/writes. */
export function aclAllows(acl: CannedAcl, level: 'bucket' | 'object', action: string, who: Principal | undefined): boolean {
  const everyone = acl === 'public-read' || acl === 'public-read-write' || (acl === 'authenticated-read' && who !== undefined);
  if (!everyone) return false;
  if (level === 'bucket') return READ_BUCKET.has(action) || (acl === 'public-read-write' && WRITE_BUCKET.has(action));
  return READ_OBJECT.has(action);
}

export const CANNED_ACLS: readonly CannedAcl[] = ['private', 'public-read', 'public-read-write', 'authenticated-read'];
