/**
 * Authenticates an S3 request: SigV4 in the Authorization header or in a
 * presigned URL, or anonymous. Returns the principal and how the payload
 * must be verified while it streams.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Principal } from '../engine/types.ts';
import type { ObjectIdentity } from '../identity.ts';
import type { ChunkSigning } from './chunked.ts';
import { canonicalResourceV2, signV2, stringToSignV2 } from './sigv2.ts';
import { S3Error } from './errors.ts';
import {
  ALGORITHM, canonicalRequest, type HeaderMap, parseAmzDate, type SigningKeyCache, scopeOf, signHex, STREAMING_PAYLOAD,
  STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER, stringToSign, UNSIGNED_PAYLOAD,
} from './sigv4.ts';

export type PayloadMode =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; hex: string }
  | { kind: 'chunked'; signing?: ChunkSigning; trailer: boolean };

export interface AuthResult { principal?: Principal; payload: PayloadMode }

export interface AuthInput {
  method: string;
  rawPath: string;
  /** Bucket taken from the Host header (virtual-hosted style), for SigV2's canonical resource. */
  vhostBucket?: string;
  query: [string, string][];
  headers: HeaderMap;
}

export interface AuthDeps { identity: ObjectIdentity; region: string; keys: SigningKeyCache; now(): number; maxSkewMs?: number }

const first = (h: HeaderMap, k: string) => h.get(k)?.[0];
const MAX_EXPIRES = 604800;

function safeEq(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

interface Parsed { accessKeyId: string; date: string; region: string; service: string; signedHeaders: string[]; signature: string }

function parseCredential(cred: string, malformed: () => S3Error): Omit<Parsed, 'signedHeaders' | 'signature'> {
  const parts = cred.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) throw malformed();
  return { accessKeyId: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

function parseAuthHeader(h: string): Parsed {
  const malformed = () => new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  if (!h.startsWith(`${ALGORITHM} `)) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: h.split(' ')[0] ?? '' });
  }
  const fields = new Map<string, string>();
  for (const part of h.slice(ALGORITHM.length + 1).split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq > 0) fields.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const cred = fields.get('Credential');
  const sh = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (!cred || !sh || !sig) throw malformed();
  return { ...parseCredential(cred, malformed), signedHeaders: sh.split(';'), signature: sig };
}

export async function authenticate(i: AuthInput, d: AuthDeps): Promise<AuthResult> {
  const authz = first(i.headers, 'authorization');
  const q = new Map(i.query);
  const presigned = q.has('X-Amz-Algorithm') || q.has('X-Amz-Credential') || q.has('X-Amz-Signature');
  if (q.has('AWSAccessKeyId') && q.has('Signature') && !authz) return authenticateV2(i, d, 'query');
  if (authz?.startsWith('AWS ')) return authenticateV2(i, d, 'header');
  if (!authz && !presigned) return { payload: { kind: 'unsigned' } };
  if (authz && presigned) throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { ArgumentName: 'Authorization' });

  let p: Parsed;
  let amzDate: string;
  let payloadHash: string;
  if (authz) {
    p = parseAuthHeader(authz);
    amzDate = first(i.headers, 'x-amz-date') ?? '';
    const dateMs = amzDate ? parseAmzDate(amzDate) : Date.parse(first(i.headers, 'date') ?? '');
    if (Number.isNaN(dateMs)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (!amzDate) amzDate = new Date(dateMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    if (Math.abs(d.now() - dateMs) > (d.maxSkewMs ?? 15 * 60_000)) {
      throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: amzDate, ServerTime: new Date(d.now()).toISOString(), MaxAllowedSkewMilliseconds: '900000' });
    }
    const sha = first(i.headers, 'x-amz-content-sha256');
    if (!sha) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    payloadHash = sha;
  } else {
    const malformed = () => new S3Error('AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
    if (q.get('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const cred = q.get('X-Amz-Credential');
    const sh = q.get('X-Amz-SignedHeaders');
    const sig = q.get('X-Amz-Signature');
    amzDate = q.get('X-Amz-Date') ?? '';
    const expires = q.get('X-Amz-Expires');
    if (!cred || !sh || !sig || !amzDate || !expires) throw new S3Error('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    p = { ...parseCredential(cred, malformed), signedHeaders: sh.split(';'), signature: sig };
    const dateMs = parseAmzDate(amzDate);
    const exp = Number(expires);
    if (Number.isNaN(dateMs)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    if (!/^\d+$/.test(expires) || exp < 1) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative');
    if (exp > MAX_EXPIRES) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    if (dateMs - d.now() > 15 * 60_000) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (d.now() > dateMs + exp * 1000) throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': expires, Expires: new Date(dateMs + exp * 1000).toISOString(), ServerTime: new Date(d.now()).toISOString() });
    payloadHash = q.get('X-Amz-Content-Sha256') ?? first(i.headers, 'x-amz-content-sha256') ?? UNSIGNED_PAYLOAD;
  }
  if (amzDate.slice(0, 8) !== p.date) throw new S3Error(authz ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError', `The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date: "${p.date}".`);
  if (p.region !== d.region) throw new S3Error(authz ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError', `The authorization header is malformed; the region '${p.region}' is wrong; expecting '${d.region}'`, { Region: d.region });
  if (p.service !== 's3') throw new S3Error(authz ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError', `The authorization header is malformed; incorrect service "${p.service}". This endpoint belongs to "s3".`);
  if (!p.signedHeaders.includes('host')) throw new S3Error('AccessDenied', 'Host header must be signed');

  const key = await d.identity.lookupAccessKey(p.accessKeyId);
  if (!key) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: p.accessKeyId });

  const scope = scopeOf(p.date, p.region, p.service);
  const creq = canonicalRequest({
    method: i.method, rawPath: i.rawPath, query: i.query, headers: i.headers, signedHeaders: p.signedHeaders, payloadHash,
    excludeQuery: authz ? undefined : 'X-Amz-Signature',
  });
  const sts = stringToSign(amzDate, scope, creq);
  const signingKey = d.keys.get(key.secretAccessKey, p.date, p.region, p.service);
  const expected = signHex(signingKey, sts);
  if (!safeEq(expected, p.signature)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: p.accessKeyId, StringToSign: sts, SignatureProvided: p.signature, CanonicalRequest: creq });
  }
  const principal: Principal = { accessKeyId: p.accessKeyId, userId: key.userId, projectId: key.projectId, ownerDisplayName: key.ownerDisplayName };

  let payload: PayloadMode;
  if (payloadHash === UNSIGNED_PAYLOAD) payload = { kind: 'unsigned' };
  else if (payloadHash === STREAMING_PAYLOAD || payloadHash === STREAMING_PAYLOAD_TRAILER) {
    payload = { kind: 'chunked', trailer: payloadHash === STREAMING_PAYLOAD_TRAILER, signing: { key: signingKey, amzDate, scope, seedSignature: p.signature } };
  } else if (payloadHash === STREAMING_UNSIGNED_TRAILER) payload = { kind: 'chunked', trailer: true };
  else if (/^[0-9a-f]{64}$/.test(payloadHash)) payload = { kind: 'sha256', hex: payloadHash };
  else throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash });
  return { principal, payload };
}

/** Signature Version 2: header `AWS AKID:signature` or query AWSAccessKeyId/Signature/Expires. Payload unsigned. */
async function authenticateV2(i: AuthInput, d: AuthDeps, form: 'header' | 'query'): Promise<AuthResult> {
  const q = new Map(i.query);
  let akid: string;
  let sig: string;
  let dateLine: string;
  if (form === 'query') {
    akid = q.get('AWSAccessKeyId')!;
    sig = q.get('Signature')!;
    const expires = q.get('Expires') ?? '';
    if (!/^\d+$/.test(expires)) throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
    if (d.now() > Number(expires) * 1000) throw new S3Error('AccessDenied', 'Request has expired', { Expires: new Date(Number(expires) * 1000).toISOString(), ServerTime: new Date(d.now()).toISOString() });
    dateLine = expires;
  } else {
    const m = /^AWS ([^:]+):(.+)$/.exec(first(i.headers, 'authorization')!);
    if (!m) throw new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', { ArgumentName: 'Authorization' });
    akid = m[1]!;
    sig = m[2]!;
    const amz = first(i.headers, 'x-amz-date');
    const date = first(i.headers, 'date');
    const ms = Date.parse(amz ?? date ?? '');
    if (Number.isNaN(ms)) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(d.now() - ms) > (d.maxSkewMs ?? 15 * 60_000)) throw new S3Error('RequestTimeTooSkewed', undefined, { RequestTime: amz ?? date ?? '', ServerTime: new Date(d.now()).toISOString(), MaxAllowedSkewMilliseconds: '900000' });
    dateLine = amz ? '' : date ?? '';
  }
  const key = await d.identity.lookupAccessKey(akid);
  if (!key) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: akid });
  const headers = new Map(i.headers);
  const sts = stringToSignV2(i.method, headers, dateLine, canonicalResourceV2(i.rawPath, i.vhostBucket, i.query.filter(([k]) => k !== 'Signature' && k !== 'AWSAccessKeyId' && k !== 'Expires')));
  if (!safeEq(signV2(key.secretAccessKey, sts), sig)) throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: akid, StringToSign: sts, SignatureProvided: sig });
  return { principal: { accessKeyId: akid, userId: key.userId, projectId: key.projectId, ownerDisplayName: key.ownerDisplayName }, payload: { kind: 'unsigned' } };
}
