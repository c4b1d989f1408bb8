/**
 * `npm run bench -- <name>`: runs bench/<name>/run.ts (or the named file).
 * Each benchmark prints its figures beside a baseline measured in the same run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const names = process.argv.slice(2);
if (names.length === 0) {
  process.stderr.write('usage: npm run bench -- api|s3|compute|network|vm [...]\n');
  process.exit(2);
}
for (const n of names) {
  const file = existsSync(join(import.meta.dirname, n, 'run.ts')) ? join(import.meta.dirname, n, 'run.ts') : join(import.meta.dirname, n);
  process.stdout.write(`\n== bench ${n}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = r.status ?? 1;
}
