/**
 * Runs host tools with argument arrays (never a shell). Failures become
 * DriverFailed errors carrying the command and stderr.
 */
import { spawn } from 'node:child_process';
import { YunError } from '../../../core/errors.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export type Runner = (cmd: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

export const run: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (e) => reject(new YunError('DriverFailed', `${cmd} could not start: ${e.message}`, { cause: e, details: { cmd } })));
    child.on('close', (code) => {
      const res = { code: code ?? -1, stdout, stderr };
      if (res.code !== 0 && !opts.allowFail) {
        reject(new YunError('DriverFailed', `${cmd} ${args.slice(0, 6).join(' ')} failed: ${stderr.trim().slice(0, 500)}`, { details: { cmd, args, code: res.code } }));
      } else resolve(res);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
