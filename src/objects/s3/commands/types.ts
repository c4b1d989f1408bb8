import type { S3Ctx } from '../context.ts';

/** One S3 operation: how it is recognised and what it does. Registered from the list in index.ts. */
export interface S3Command {
  /** Operation name from the S3 API Reference, e.g. `PutObject`. */
  name: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD' | 'OPTIONS';
  target: 'service' | 'bucket' | 'object';
  /** Query parameters (subresources) that must be present. */
  query?: string[];
  /** A header that must be present (e.g. x-amz-copy-source). */
  header?: string;
  handle(c: S3Ctx): Promise<void>;
}
