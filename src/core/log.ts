import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths pino blanks in every line, so no secret ever reaches a log. */
export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret', 'secretAccessKey', '*.secretAccessKey',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-amz-server-side-encryption-customer-key"]',
];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
