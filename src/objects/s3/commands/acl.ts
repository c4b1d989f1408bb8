/** GetBucketAcl/PutBucketAcl/GetObjectAcl/PutObjectAcl: canned ACLs, answered as grant lists. */
import type { CannedAcl } from '../../engine/types.ts';
import { authorize, loadBucket, readBody, send, sendXml, type S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { asArray, esc, parseXml, text, xmlDoc, type XNode } from '../xml.ts';
import { cannedAcl, ownerXml, versionIdParam } from './common.ts';
import type { S3Command } from './types.ts';

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

function aclXml(ownerId: string, ownerName: string, acl: CannedAcl): string {
  const grant = (grantee: string, perm: string) => `<Grant>${grantee}<Permission>${perm}</Permission></Grant>`;
  const user = `<Grantee xmlns:xsi="${XSI}" xsi:type="CanonicalUser"><ID>${esc(ownerId)}</ID><DisplayName>${esc(ownerName)}</DisplayName></Grantee>`;
  const group = (uri: string) => `<Grantee xmlns:xsi="${XSI}" xsi:type="Group"><URI>${uri}</URI></Grantee>`;
  let grants = grant(user, 'FULL_CONTROL');
  if (acl === 'public-read' || acl === 'public-read-write') grants += grant(group(ALL_USERS), 'READ');
  if (acl === 'public-read-write') grants += grant(group(ALL_USERS), 'WRITE');
  if (acl === 'authenticated-read') grants += grant(group(AUTH_USERS), 'READ');
  const owner = xmlDoc('X', [ownerXml(ownerId, ownerName)], null).replace(/^.*<X>|<\/X>$/gs, '');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${owner}<AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`;
}

/** A canned ACL from x-amz-acl, or from an AccessControlPolicy body that matches one. */
async function requestedAcl(c: S3Ctx): Promise<CannedAcl> {
  const canned = cannedAcl(c);
  const body = await readBody(c, 64 * 1024);
  if (canned) return canned;
  if (body.length === 0) throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  const doc = parseXml(body, 'AccessControlPolicy', 'MalformedACLError');
  const list = (doc.AccessControlList ?? {}) as Record<string, unknown>;
  const grants = asArray(list.Grant as Record<string, unknown>[] | undefined);
  let read = false;
  let write = false;
  let auth = false;
  for (const g of grants) {
    const gr = (g.Grantee ?? {}) as Record<string, unknown>;
    const uri = text(gr.URI);
    const perm = text(g.Permission);
    if (uri === ALL_USERS && perm === 'READ') read = true;
    else if (uri === ALL_USERS && perm === 'WRITE') write = true;
    else if (uri === AUTH_USERS && perm === 'READ') auth = true;
  }
  return write ? 'public-read-write' : read ? 'public-read' : auth ? 'authenticated-read' : 'private';
}

export const GetBucketAcl: S3Command = {
  name: 'GetBucketAcl', method: 'GET', target: 'bucket', query: ['acl'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketAcl', b);
    sendXml(c, 200, aclXml(b.projectId, b.ownerName, b.acl));
  },
};

export const PutBucketAcl: S3Command = {
  name: 'PutBucketAcl', method: 'PUT', target: 'bucket', query: ['acl'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketAcl', b);
    await c.engine.buckets.setBucketAcl(c.ec, b.name, await requestedAcl(c));
    send(c, 200);
  },
};

export const GetObjectAcl: S3Command = {
  name: 'GetObjectAcl', method: 'GET', target: 'object', query: ['acl'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetObjectAcl', b, { key: c.key });
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, versionIdParam(c));
    const h: Record<string, string> = {};
    if (b.versioning !== '') h['x-amz-version-id'] = v.versionId;
    sendXml(c, 200, aclXml(b.projectId, b.ownerName, v.acl), h);
  },
};

export const PutObjectAcl: S3Command = {
  name: 'PutObjectAcl', method: 'PUT', target: 'object', query: ['acl'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObjectAcl', b, { key: c.key });
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, versionIdParam(c));
    await c.engine.objects.setObjectAcl(c.ec, v, await requestedAcl(c));
    send(c, 200, b.versioning !== '' ? { 'x-amz-version-id': v.versionId } : {});
  },
};

export type { XNode };
