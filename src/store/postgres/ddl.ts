/**
 * Makes a migration script written for both engines mean the same on
 * PostgreSQL: BLOB becomes BYTEA and REAL becomes DOUBLE PRECISION (SQLite's
 * REAL is an 8-byte float; PostgreSQL's REAL is only 4 bytes). Quoted text,
 * quoted identifiers and comments are left alone. Scripts given per engine
 * (`up: { sqlite, postgres }`) are not translated.
 */
const SKIP = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\//g;

export function translateDdl(script: string): string {
  let out = '';
  let last = 0;
  for (const m of script.matchAll(SKIP)) {
    out += translatePlain(script.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + translatePlain(script.slice(last));
}

function translatePlain(s: string): string {
  return s.replace(/\bBLOB\b/gi, 'BYTEA').replace(/\bREAL\b/gi, 'DOUBLE PRECISION');
}
