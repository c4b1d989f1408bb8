import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { requireCapability } from '../helpers/capability.ts';

export const CHROMIUM = '/usr/bin/chromium';
const repo = fileURLToPath(new URL('../..', import.meta.url));

/** Builds the console into console/dist (what the API server serves), as `npm run build:console` does. */
export async function buildConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(repo, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], { cwd: repo });
}

/** Where screenshots go: $YUN_ARTIFACTS/console, else /tmp/yun-console-screens. */
export async function screenshotDir(): Promise<string> {
  const d = process.env.YUN_ARTIFACTS ? join(process.env.YUN_ARTIFACTS, 'console') : join(tmpdir(), 'yun-console-screens');
  await mkdir(d, { recursive: true });
  return d;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own storage) per user. */
  context(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/**
 * Debian's chromium, headless; Playwright gives the browser a fresh temporary
 * profile (user-data dir) and removes it on close. Skips (fails under
 * CI=true) when chromium is missing. Never a downloaded browser.
 */
export async function launchChromium(t: TestContext): Promise<TestBrowser | undefined> {
  if (!requireCapability(t, existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`)) return undefined;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    context: () => browser.newContext({ viewport: { width: 1360, height: 900 } }),
    close: () => browser.close(),
  };
}
