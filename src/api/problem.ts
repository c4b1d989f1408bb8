import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCatalogue, YunError, isYunError } from '../core/errors.ts';

/** RFC 9457 problem+json: the REST edge's one mapping from domain errors to the wire. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field?: string;
  instance?: string;
  requestId?: string;
  [k: string]: unknown;
}

function fieldFromValidation(e: FastifyError): string | undefined {
  const v = e.validation?.[0];
  if (!v) return undefined;
  const params = v.params as Record<string, unknown>;
  const base = `${v.instancePath ?? ''}`;
  const extra = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  const ctx = (e as FastifyError & { validationContext?: string }).validationContext;
  const path = extra ? `${base}/${extra}` : base || '/';
  return ctx && ctx !== 'body' ? `${ctx}:${path}` : path;
}

/** Turns anything thrown into a domain error, never leaking internals. */
export function toYunError(err: unknown): YunError {
  if (isYunError(err)) return err;
  const e = err as FastifyError;
  if (e?.validation) {
    const field = fieldFromValidation(e);
    const v = e.validation[0]!;
    const params = v.params as Record<string, unknown>;
    const msg = params.additionalProperty ? `unknown field '${String(params.additionalProperty)}'` : `${field} ${v.message ?? 'is invalid'}`;
    return new YunError('ValidationFailed', msg, { field });
  }
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new YunError('PayloadTooLarge');
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new YunError('ValidationFailed', 'unsupported content type; send application/json', { field: 'content-type' });
  if (e?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e instanceof SyntaxError || e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new YunError('MalformedJson', 'request body is not valid JSON');
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new YunError(e.statusCode === 404 ? 'NotFound' : e.statusCode === 413 ? 'PayloadTooLarge' : 'ValidationFailed', e.message);
  }
  return new YunError('Internal', 'internal error', { cause: err });
}

export function sendProblem(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const y = toYunError(err);
  if (y.code === 'Internal') req.log.error({ err }, 'unhandled error');
  const body: Problem = {
    type: `https://yun.dev/problems/${y.code}`,
    title: ErrorCatalogue[y.code].title,
    status: y.status,
    detail: y.message,
    code: y.code,
    ...(y.field ? { field: y.field } : {}),
    ...(y.details ?? {}),
    instance: req.url.split('?')[0],
    requestId: String(req.id),
  };
  if (y.code === 'TooManyRequests' && y.details?.retryAfterSeconds) void reply.header('retry-after', String(y.details.retryAfterSeconds));
  return reply.code(y.status).type('application/problem+json').send(body);
}
