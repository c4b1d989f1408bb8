import type { Migration } from '../store/types.ts';

/** Identity's own tables. Quota counters live beside the limits so a create consumes quota in its own transaction. */
export const identityMigrations: Migration[] = [
  {
    service: 'identity',
    version: 1,
    up: `
      CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0, email TEXT, created_at TEXT NOT NULL);
      CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
      CREATE TABLE memberships (user_id TEXT NOT NULL, project_id TEXT NOT NULL, role TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (user_id, project_id));
      CREATE TABLE tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, secret_hash TEXT NOT NULL, kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '', project_id TEXT, expires_at TEXT, revoked_at TEXT, created_at TEXT NOT NULL);
      CREATE INDEX tokens_user ON tokens(user_id);
      CREATE TABLE access_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT NOT NULL,
        secret_enc TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, last_used_at TEXT);
      CREATE TABLE policies (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
        created_at TEXT NOT NULL, UNIQUE (project_id, name));
      CREATE TABLE policy_attachments (policy_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (policy_id, user_id));
      CREATE TABLE quotas (project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit BIGINT NOT NULL,
        used BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (project_id, resource))`,
  },
];
