import assert from 'node:assert/strict';
import { test } from 'node:test';
import { translateDdl } from './ddl.ts';
import { rewritePlaceholders } from './placeholders.ts';

test('numbers bare placeholders in order', () => {
  assert.deepEqual(rewritePlaceholders('SELECT * FROM t WHERE a = ? AND b IN (?, ?)'), {
    text: 'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)',
    count: 3,
  });
});

test('skips ? inside strings, identifiers, comments and dollar quotes', () => {
  const sql = `SELECT '?', 'it''s ?', E'\\'?', "we?ird", $$ ? $$, $x$ ?'$x$ -- ?
  , /* ? /* ? */ ? */ ?`;
  const { text, count } = rewritePlaceholders(sql);
  assert.equal(count, 1);
  assert.ok(text.endsWith('*/ $1'));
  assert.equal(text.slice(0, -2), sql.slice(0, -1));
});

test('a dollar inside an identifier or a $n parameter is not a quote', () => {
  assert.deepEqual(rewritePlaceholders('SELECT a$b, ? FROM t'), { text: 'SELECT a$b, $1 FROM t', count: 1 });
  assert.deepEqual(rewritePlaceholders("SELECT ?::text || 'x'"), { text: "SELECT $1::text || 'x'", count: 1 });
});

test('shared DDL: BLOB and REAL become BYTEA and DOUBLE PRECISION outside quotes', () => {
  assert.equal(
    translateDdl(`CREATE TABLE t (b BLOB, r real, "BLOB" TEXT DEFAULT 'REAL'); -- BLOB\nCREATE TABLE blobs (x INTEGER)`),
    `CREATE TABLE t (b BYTEA, r DOUBLE PRECISION, "BLOB" TEXT DEFAULT 'REAL'); -- BLOB\nCREATE TABLE blobs (x INTEGER)`,
  );
});
