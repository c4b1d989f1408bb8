import { execFile } from 'node:child_process';
import { YunError } from '../../../core/errors.ts';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a host tool with an argument array (never a shell string). Rejects with
 * `DriverFailed` carrying the tool's stderr when it exits non-zero.
 */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number; input?: Buffer | string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args as string[],
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new YunError('DriverFailed', `${cmd} ${args.join(' ')} failed: ${String(stderr || err.message).trim().slice(0, 2000)}`, {
              cause: err,
              details: { cmd },
            }),
          );
        } else resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** True when `cmd` is found on PATH (or is an existing absolute path). */
export async function haveTool(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v "$1"', 'sh', cmd]);
    return true;
  } catch {
    return false;
  }
}
