/**
 * The object backend: where blob bytes live. Blobs are named by opaque
 * content ids chosen by the backend — never by anything derived from an
 * object key — and are immutable once committed.
 *
 * Contract:
 * - `create()` returns a writer; nothing is visible under its id until
 *   `commit()` resolves, and after that the bytes are durable (survive
 *   kill -9 and power loss on a filesystem honouring fsync).
 * - `abort()` removes every trace of an uncommitted writer; it never throws.
 * - `delete()` of a missing blob succeeds.
 * - Errors from a full disk surface as errors with `code: 'ENOSPC'` and leave
 *   nothing half-written visible.
 */
export interface BlobWriter {
  readonly id: string;
  write(chunk: Buffer): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface BlobReader {
  /** Physical size of the blob in bytes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `position` (short only at end of blob). */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface BackendCapabilities {
  /** Survives kill -9 after commit (fsync of file and directory). */
  durable: boolean;
  kind: 'local';
}

export interface ObjectBackend {
  readonly capabilities: BackendCapabilities;
  /** Prepares directories and removes temp files left by a crash; returns how many were removed. */
  init(): Promise<{ removedTemp: number }>;
  create(): Promise<BlobWriter>;
  open(id: string): Promise<BlobReader>;
  delete(id: string): Promise<void>;
  /** Every committed blob with its modification time (for orphan collection). */
  list(): AsyncIterable<{ id: string; mtimeMs: number }>;
}
