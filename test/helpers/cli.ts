import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const YUN_BIN = join(import.meta.dirname, '../../bin/yun.mjs');

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs the real `yun` binary against a test cloud, as a user would:
 * `yun(...args)` never throws (check `code`); `json(...args)` adds `-o json`,
 * asserts success and parses the output.
 */
export function yunCli(o: { endpoint: string; token: string; project?: string; home: string; env?: Record<string, string>; timeoutMs?: number }) {
  const env = { ...process.env, YUN_ENDPOINT: o.endpoint, YUN_TOKEN: o.token, YUN_PROJECT: o.project ?? 'default', YUN_HOME: o.home, ...o.env };
  const yun = async (...args: string[]): Promise<CliResult> => {
    try {
      const r = await run(process.execPath, [YUN_BIN, ...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: o.timeoutMs });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };
  const json = async (...args: string[]) => {
    const r = await yun('-o', 'json', ...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  return { yun, json, env };
}
