/** Tables of the metering service. Records are immutable: keyed, inserted once, never updated. */
import type { Migration } from '../store/types.ts';

const tables = (big: string) => `
CREATE TABLE metering_records (
  record_key TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  sku TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  resource_kind TEXT NOT NULL,
  resource_name TEXT NOT NULL,
  labels TEXT NOT NULL,
  quantity ${big} NOT NULL,
  start_ms ${big} NOT NULL,
  end_ms ${big} NOT NULL,
  source TEXT NOT NULL,
  created_ms ${big} NOT NULL
);
CREATE INDEX metering_records_project ON metering_records(project, start_ms);
CREATE INDEX metering_records_start ON metering_records(start_ms);
CREATE TABLE metering_intervals (
  resource_id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  rates TEXT NOT NULL,
  since_ms ${big} NOT NULL
);
CREATE TABLE metering_gauges (
  sku TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  last_ms ${big} NOT NULL,
  PRIMARY KEY (sku, resource_id)
);
CREATE TABLE metering_watermarks (
  name TEXT PRIMARY KEY,
  value ${big} NOT NULL
);
CREATE TABLE metering_invoices (
  project TEXT NOT NULL,
  month TEXT NOT NULL,
  currency TEXT NOT NULL,
  total_micro ${big} NOT NULL,
  body TEXT NOT NULL,
  closed_ms ${big} NOT NULL,
  PRIMARY KEY (project, month)
);
CREATE TABLE metering_budget_alerts (
  budget_id TEXT NOT NULL,
  period TEXT NOT NULL,
  threshold INTEGER NOT NULL,
  basis TEXT NOT NULL,
  project TEXT NOT NULL,
  payload TEXT NOT NULL,
  fired_ms ${big} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_ms ${big},
  last_error TEXT,
  PRIMARY KEY (budget_id, period, threshold, basis)
)`;

/**
 * Daily rollup of the records, maintained in the same transaction as each
 * record insert (only for rows the insert really added), so rating reads
 * ~24× fewer rows than records. Price changes fall on whole UTC days, so a
 * day never mixes price versions.
 */
const rollup = (big: string) => `
CREATE TABLE metering_daily (
  project TEXT NOT NULL,
  sku TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  day ${big} NOT NULL,
  labels TEXT NOT NULL,
  resource_kind TEXT NOT NULL,
  resource_name TEXT NOT NULL,
  quantity ${big} NOT NULL,
  first_ms ${big} NOT NULL,
  PRIMARY KEY (project, sku, resource_id, day, labels)
);
CREATE INDEX metering_daily_day ON metering_daily(day);
INSERT INTO metering_daily (project, sku, resource_id, day, labels, resource_kind, resource_name, quantity, first_ms)
  SELECT project, sku, resource_id, start_ms / 86400000, labels, MIN(resource_kind), MIN(resource_name), SUM(quantity), MIN(start_ms)
  FROM metering_records GROUP BY project, sku, resource_id, start_ms / 86400000, labels`;

export const meteringMigrations: Migration[] = [
  { service: 'metering', version: 1, up: { sqlite: tables('INTEGER'), postgres: tables('BIGINT') } },
  { service: 'metering', version: 2, up: { sqlite: rollup('INTEGER'), postgres: rollup('BIGINT') } },
  // Reads go through the rollup; these indexes only cost inserts (about half of ingestion time).
  { service: 'metering', version: 3, up: 'DROP INDEX metering_records_project; DROP INDEX metering_records_start' },
];
