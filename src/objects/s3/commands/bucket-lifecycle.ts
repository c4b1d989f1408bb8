import type { LifecycleRule, Tag } from '../../engine/types.ts';
import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { asArray, parseXml, text, xmlDoc, type XNode } from '../xml.ts';
import type { S3Command } from './types.ts';

const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);
const posInt = (v: unknown, what: string): number | undefined => {
  const s = text(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s.trim()) || Number(s) <= 0) throw new S3Error('InvalidArgument', `'${what}' for Expiration action must be a positive integer`);
  return Number(s);
};

function parseRule(r: Record<string, unknown>): LifecycleRule {
  const status = text(r.Status);
  if (status !== 'Enabled' && status !== 'Disabled') throw new S3Error('MalformedXML');
  let prefix = text(r.Prefix) ?? '';
  let tags: Tag[] = [];
  const f = obj(r.Filter);
  if (f) {
    const and = obj(f.And);
    const src = and ?? f;
    prefix = text(src.Prefix) ?? prefix;
    tags = asArray(src.Tag as Record<string, unknown>[] | undefined).map((t) => ({ key: text(t.Key) ?? '', value: text(t.Value) ?? '' }));
  }
  const exp = obj(r.Expiration);
  const nce = obj(r.NoncurrentVersionExpiration);
  const abort = obj(r.AbortIncompleteMultipartUpload);
  const rule: LifecycleRule = { id: text(r.ID), status, prefix, tags };
  if (exp) {
    rule.expirationDays = posInt(exp.Days, 'Days');
    const d = text(exp.Date);
    if (d !== undefined) { if (Number.isNaN(Date.parse(d))) throw new S3Error('InvalidArgument', "'Date' must be at midnight GMT"); rule.expirationDate = d; }
    if (text(exp.ExpiredObjectDeleteMarker) === 'true') rule.expiredObjectDeleteMarker = true;
  }
  if (nce) { rule.noncurrentDays = posInt(nce.NoncurrentDays, 'NoncurrentDays'); const n = text(nce.NewerNoncurrentVersions); if (n !== undefined) rule.newerNoncurrentVersions = Number(n); }
  if (abort) rule.abortIncompleteDays = posInt(abort.DaysAfterInitiation, 'DaysAfterInitiation');
  if (!exp && !nce && !abort && !r.Transition && !r.NoncurrentVersionTransition) throw new S3Error('MalformedXML', 'At least one action needs to be specified in a rule');
  return rule;
}

function ruleXml(r: LifecycleRule): XNode {
  const filterChildren: XNode[] = r.tags.length === 0 ? [['Prefix', r.prefix]]
    : r.tags.length === 1 && !r.prefix ? [['Tag', [['Key', r.tags[0]!.key], ['Value', r.tags[0]!.value]]]]
    : [['And', [['Prefix', r.prefix], ...r.tags.map((t) => ['Tag', [['Key', t.key], ['Value', t.value]]] as XNode)]]];
  const exp: XNode[] = [];
  if (r.expirationDays !== undefined) exp.push(['Days', r.expirationDays]);
  if (r.expirationDate !== undefined) exp.push(['Date', r.expirationDate]);
  if (r.expiredObjectDeleteMarker) exp.push(['ExpiredObjectDeleteMarker', 'true']);
  return ['Rule', [
    r.id !== undefined ? ['ID', r.id] : undefined,
    ['Filter', filterChildren],
    ['Status', r.status],
    exp.length ? ['Expiration', exp] : undefined,
    r.noncurrentDays !== undefined ? ['NoncurrentVersionExpiration', [['NoncurrentDays', r.noncurrentDays], r.newerNoncurrentVersions !== undefined ? ['NewerNoncurrentVersions', r.newerNoncurrentVersions] : undefined]] : undefined,
    r.abortIncompleteDays !== undefined ? ['AbortIncompleteMultipartUpload', [['DaysAfterInitiation', r.abortIncompleteDays]]] : undefined,
  ]];
}

export const GetBucketLifecycleConfiguration: S3Command = {
  name: 'GetBucketLifecycleConfiguration', method: 'GET', target: 'bucket', query: ['lifecycle'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetLifecycleConfiguration', b);
    if (!b.config.lifecycle?.length) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: b.name });
    sendXml(c, 200, xmlDoc('LifecycleConfiguration', b.config.lifecycle.map(ruleXml)));
  },
};

export const PutBucketLifecycleConfiguration: S3Command = {
  name: 'PutBucketLifecycleConfiguration', method: 'PUT', target: 'bucket', query: ['lifecycle'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutLifecycleConfiguration', b);
    const doc = parseXml(await readBody(c, 256 * 1024), 'LifecycleConfiguration');
    const rules = asArray(doc.Rule as Record<string, unknown>[] | undefined).map(parseRule);
    if (rules.length === 0 || rules.length > 1000) throw new S3Error('MalformedXML');
    const ids = rules.map((r) => r.id).filter(Boolean);
    if (new Set(ids).size !== ids.length) throw new S3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule');
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, lifecycle: rules }));
    send(c, 200);
  },
};

export const DeleteBucketLifecycle: S3Command = {
  name: 'DeleteBucketLifecycle', method: 'DELETE', target: 'bucket', query: ['lifecycle'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutLifecycleConfiguration', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { lifecycle: _l, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};
