/**
 * The console's budgets (issue 10's benchmark, as assertions plus printed
 * figures): JavaScript shipped for the first page ≤ 250 KB gzip; the
 * dashboard makes at most one request per widget (no N+1); time to the
 * dashboard's first meaningful render in headless chromium over loopback.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { buildConsole, launchChromium } from './browser.ts';

const dist = fileURLToPath(new URL('../../console/dist', import.meta.url));

describe('web console budgets', () => {
  let tc: TestCloud;
  before(async () => {
    await buildConsole();
    tc = await startTestCloud();
  });
  after(async () => { await tc?.stop(); });

  test('first page ships ≤ 250 KB of gzipped JavaScript', async () => {
    const html = await readFile(join(dist, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script[^>]+src="\/([^"]+)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(scripts.length > 0);
    let gz = 0;
    for (const s of scripts) gz += gzipSync(await readFile(join(dist, s))).length;
    console.log(`console: first-page JavaScript ${scripts.length} file(s), ${(gz / 1024).toFixed(1)} KiB gzip`);
    assert.ok(gz <= 250 * 1024, `${gz} bytes gzip`);
  });

  test('dashboard: one request per widget, time to first meaningful render', async (t) => {
    const b = await launchChromium(t);
    if (!b) return;
    t.after(() => b.close());
    const login = await tc.admin.request<{ token: string; expiresAt: string }>('POST', '/v1/auth/login', { body: { user: 'admin', password: tc.adminPassword } });
    const ctx = await b.context();
    await ctx.addInitScript((s) => localStorage.setItem('yun.session', s), JSON.stringify({ token: login.token, expiresAt: login.expiresAt, user: 'admin', project: 'default' }));
    const page = await ctx.newPage();
    const calls: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/v1/') || u.pathname === '/healthz' || u.pathname === '/readyz') calls.push(`${r.method()} ${u.pathname}`);
    });
    const t0 = Date.now();
    await page.goto(`${tc.cloud.apiUrl}/`);
    await page.locator('[data-resource="instances"]').waitFor();
    await page.getByText('State store').waitFor();
    const ms = Date.now() - t0;
    await page.waitForLoadState('networkidle').catch(() => undefined);
    console.log(`console: dashboard first meaningful render ${ms} ms; API calls: ${calls.join(', ')}`);
    const counts = new Map<string, number>();
    for (const c of calls) counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const [c, n] of counts) assert.equal(n, 1, `${c} requested ${n} times`);
    assert.ok(calls.length <= 12, `${calls.length} calls`);
    assert.ok(ms < 10_000);
  });
});
