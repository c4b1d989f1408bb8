/**
 * The one closed error catalogue. Services throw `YunError`s built from these
 * codes; each protocol edge (REST problem+json, S3 XML) maps codes to its own
 * wire form in exactly one place. Messages never carry secrets.
 */
export const ErrorCatalogue = {
  ValidationFailed: { status: 400, title: 'Validation failed' },
  MalformedJson: { status: 400, title: 'Malformed JSON body' },
  PayloadTooLarge: { status: 413, title: 'Request body too large' },
  Unauthenticated: { status: 401, title: 'Authentication required' },
  TokenExpired: { status: 401, title: 'Token expired or revoked' },
  Forbidden: { status: 403, title: 'Not allowed' },
  NotFound: { status: 404, title: 'Resource not found' },
  AlreadyExists: { status: 409, title: 'Resource already exists' },
  Conflict: { status: 409, title: 'Conflict' },
  StaleGeneration: { status: 409, title: 'Resource was modified; re-read and retry' },
  InvalidState: { status: 409, title: 'Operation not allowed in the current state' },
  IdempotencyKeyReused: { status: 422, title: 'Idempotency-Key reused with a different request' },
  QuotaExceeded: { status: 403, title: 'Quota exceeded' },
  NoValidHost: { status: 409, title: 'No valid host was found' },
  TooManyRequests: { status: 429, title: 'Too many requests' },
  CapabilityMissing: { status: 501, title: 'This host lacks a required capability' },
  DriverFailed: { status: 502, title: 'Driver operation failed' },
  Unavailable: { status: 503, title: 'Service unavailable' },
  Internal: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ErrorCatalogue;

export class YunError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** JSON path of the offending field, e.g. `/spec/flavor`. */
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, opts: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message ?? ErrorCatalogue[code].title, { cause: opts.cause });
    this.name = 'YunError';
    this.code = code;
    this.status = ErrorCatalogue[code].status;
    this.field = opts.field;
    this.details = opts.details;
  }
}

export const notFound = (kind: string, name: string) =>
  new YunError('NotFound', `${kind} '${name}' not found`, { details: { kind, name } });

export const invalid = (field: string, message: string) =>
  new YunError('ValidationFailed', message, { field });

export const isYunError = (e: unknown): e is YunError => e instanceof YunError;
