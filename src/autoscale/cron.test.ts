import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronMatches, lastFire, parseCron } from './cron.ts';

const at = (iso: string) => Date.parse(iso);

describe('cron', () => {
  it('matches weekday mornings at 08:00', () => {
    const c = parseCron('0 8 * * 1-5');
    assert.ok(cronMatches(c, at('2026-11-30T08:00:30Z'))); // Monday
    assert.ok(!cronMatches(c, at('2026-11-29T08:00:00Z'))); // Sunday
    assert.ok(!cronMatches(c, at('2026-11-30T08:01:00Z')));
  });
  it('steps, lists, ranges and Sunday as 7', () => {
    const c = parseCron('*/15 9-17/4 1,15 * 7');
    assert.ok(cronMatches(c, at('2026-11-29T13:45:00Z'))); // Sunday (dow matches, dom does not: either)
    assert.ok(cronMatches(c, at('2026-12-01T09:30:00Z'))); // 1st (dom)
    assert.ok(!cronMatches(c, at('2026-12-02T09:30:00Z')));
    assert.ok(!cronMatches(c, at('2026-12-01T10:30:00Z')));
  });
  it('evaluates in a time zone', () => {
    const c = parseCron('0 8 * * *');
    assert.ok(cronMatches(c, at('2026-07-01T06:00:00Z'), 'Europe/Berlin'));
    assert.ok(!cronMatches(c, at('2026-07-01T08:00:00Z'), 'Europe/Berlin'));
  });
  it('lastFire finds the start of the active window', () => {
    const c = parseCron('0 8 * * 1-5');
    assert.equal(lastFire(c, at('2026-11-30T08:30:00Z'), 3600_000), at('2026-11-30T08:00:00Z'));
    assert.equal(lastFire(c, at('2026-11-30T09:30:00Z'), 3600_000), undefined);
  });
  it('refuses malformed expressions', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '*/0 * * * *', 'a * * * *', '5-1 * * * *']) assert.throws(() => parseCron(bad), /cron/, bad);
  });
});
