import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesSelector, parseSelector } from './selector.ts';

test('label selectors: equality, inequality, existence, set membership', () => {
  const l = { env: 'prod', tier: 'web' };
  const m = (s: string) => matchesSelector(l, parseSelector(s));
  assert.ok(m('env=prod'));
  assert.ok(m('env==prod,tier'));
  assert.ok(!m('env!=prod'));
  assert.ok(m('!legacy'));
  assert.ok(m('tier in (web,api)'));
  assert.ok(!m('tier notin (web)'));
  assert.ok(m('env=prod,tier in (db, web)'));
  assert.throws(() => parseSelector('env=pr od'), /invalid label/);
});
