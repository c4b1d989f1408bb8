/** Tables of the objects service. Keys sort by UTF-8 bytes on both engines. */
import type { Migration } from '../../store/types.ts';

const schema = (c: string) => `
CREATE TABLE objects_buckets (
  name TEXT${c} PRIMARY KEY,
  project_id TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  region TEXT NOT NULL,
  versioning TEXT NOT NULL DEFAULT '',
  acl TEXT NOT NULL DEFAULT 'private',
  config TEXT NOT NULL DEFAULT '{}',
  bytes BIGINT NOT NULL DEFAULT 0,
  objects BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX objects_buckets_project ON objects_buckets(project_id);
CREATE TABLE objects_versions (
  bucket TEXT${c} NOT NULL,
  key TEXT${c} NOT NULL,
  version_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  latest INTEGER NOT NULL,
  delete_marker INTEGER NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  mtime_ms BIGINT NOT NULL,
  blobs TEXT NOT NULL,
  meta TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  acl TEXT NOT NULL DEFAULT 'private',
  owner_id TEXT NOT NULL,
  PRIMARY KEY (bucket, key, version_id)
);
CREATE INDEX objects_versions_latest ON objects_versions(bucket, latest, key);
CREATE INDEX objects_versions_order ON objects_versions(bucket, key, seq);
CREATE TABLE objects_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT${c} NOT NULL,
  key TEXT${c} NOT NULL,
  initiated_ms BIGINT NOT NULL,
  owner_id TEXT NOT NULL,
  meta TEXT NOT NULL
);
CREATE INDEX objects_uploads_bucket ON objects_uploads(bucket, key, initiated_ms);
CREATE TABLE objects_parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  mtime_ms BIGINT NOT NULL,
  blob TEXT NOT NULL,
  checksum TEXT,
  PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE objects_gc (
  blob TEXT PRIMARY KEY,
  queued_ms BIGINT NOT NULL
)`;

export const objectsMigrations: Migration[] = [
  { service: 'objects', version: 1, up: { sqlite: schema(''), postgres: schema(' COLLATE "C"') } },
  // Encoded bytes of small objects stored in their version row (BlobDesc.inline); NULL otherwise.
  { service: 'objects', version: 2, up: { sqlite: 'ALTER TABLE objects_versions ADD COLUMN inline_data BLOB', postgres: 'ALTER TABLE objects_versions ADD COLUMN inline_data BYTEA' } },
];
