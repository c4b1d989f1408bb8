/**
 * Console benchmark (issue 10): JavaScript shipped for the first page (gzip;
 * target ≤ 250 KB), time to the dashboard's first meaningful render in
 * headless Chromium over loopback (5 runs; baseline: the same browser loading
 * a static page from the same server), and the API calls the dashboard makes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { CHROMIUM, buildConsole } from '../../test/console/browser.ts';
import { startTestCloud } from '../../test/helpers/cloud.ts';

const dist = fileURLToPath(new URL('../../console/dist', import.meta.url));
await buildConsole();
const html = await readFile(join(dist, 'index.html'), 'utf8');
const scripts = [...html.matchAll(/<script[^>]+src="\/([^"]+)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g)].map((m) => m[1]!);
let gz = 0;
for (const s of scripts) gz += gzipSync(await readFile(join(dist, s))).length;

const tc = await startTestCloud();
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
try {
  const login = await tc.admin.request<{ token: string; expiresAt: string }>('POST', '/v1/auth/login', { body: { user: 'admin', password: tc.adminPassword } });
  const renders: number[] = [];
  const baseline: number[] = [];
  let calls: string[] = [];
  for (let i = 0; i < 5; i++) {
    const ctx = await browser.newContext();
    await ctx.addInitScript((s) => localStorage.setItem('yun.session', s), JSON.stringify({ token: login.token, expiresAt: login.expiresAt, user: 'admin', project: 'default' }));
    const page = await ctx.newPage();
    let t0 = performance.now();
    await page.goto(`${tc.cloud.apiUrl}/healthz`);
    baseline.push(performance.now() - t0);
    const seen: string[] = [];
    page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/v1/') || u.pathname === '/healthz') seen.push(`${r.method()} ${u.pathname}`); });
    t0 = performance.now();
    await page.goto(`${tc.cloud.apiUrl}/`);
    await page.locator('[data-resource="instances"]').waitFor();
    await page.getByText('State store').waitFor();
    renders.push(performance.now() - t0);
    await page.waitForLoadState('networkidle').catch(() => undefined);
    calls = seen;
    await ctx.close();
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const distinct = new Set(calls);
  process.stdout.write([
    `first-page JavaScript  ${scripts.length} file(s), ${(gz / 1024).toFixed(1)} KiB gzip (target ≤ 250 KB)`,
    `dashboard render       median ${med(renders).toFixed(0)} ms over 5 runs (baseline: a bare page from the same server ${med(baseline).toFixed(0)} ms)`,
    `dashboard API calls    ${calls.length} (${distinct.size} distinct; each path once: ${distinct.size === calls.length})`,
  ].join('\n') + '\n');
} finally {
  await browser.close();
  await tc.stop();
}
