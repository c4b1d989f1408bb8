// `npm start`: builds the web console when its build is missing or older
// than its sources, then runs `yun up` in the foreground.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const newest = (dir) => readdirSync(dir, { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile()).reduce((m, e) => Math.max(m, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);
const built = join(root, 'console/dist/index.html');
if (existsSync(join(root, 'console/vite.config.ts')) && (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, 'console/src')))) {
  process.stdout.write('building the web console…\n');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const up = spawn(process.execPath, [join(root, 'bin/yun.mjs'), 'up', ...process.argv.slice(2)], { stdio: 'inherit' });
// Pass Ctrl-C / SIGTERM on so `yun up` drains, and leave with its exit code.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => up.kill(sig));
up.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
