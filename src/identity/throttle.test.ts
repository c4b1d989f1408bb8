import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle } from './throttle.ts';

test('failures beyond the free ones back off exponentially; success clears the user', () => {
  let now = 0;
  const t = new LoginThrottle(3, 1000, 60_000, () => now);
  const keys = ['u:a', 'ip:1'];
  for (let i = 0; i < 3; i++) { assert.equal(t.retryAfterMs(keys), 0); t.fail(keys); }
  assert.equal(t.retryAfterMs(keys), 1000);
  now = 1000;
  t.fail(keys);
  assert.equal(t.retryAfterMs(keys), 2000);
  t.succeed(['u:a']);
  assert.equal(t.retryAfterMs(['u:a']), 0);
  assert.equal(t.retryAfterMs(['ip:1']), 2000, 'the address stays throttled');
});
