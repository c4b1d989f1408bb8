/**
 * `yun group …` — instance groups (N identical instances kept alive):
 *   yun group create workers --image busybox --flavor m1.small --size 3 [-- command args…]
 *   yun group list · show NAME · resize NAME --size 5 · delete NAME
 */
import type { Command } from 'commander';
import { AutoscaleApi } from '../../sdk/autoscale.ts';
import type { CliEnv } from '../env.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got '${v}'`);
  return n;
};
const COLS = ['name', 'state', 'size', 'running', 'image', 'flavor', 'replaced'];

export function registerGroupCommands(program: Command, env: CliEnv): void {
  const api = async () => new AutoscaleApi(await env.client());
  const g = program.command('group').description('instance groups: N identical instances, replaced when they fail');
  g.command('create <name> [command...]').requiredOption('--image <image>').option('--flavor <flavor>').option('--cpus <n>', 'vCPUs', Number).option('--memory <mb>', 'MiB', Number)
    .requiredOption('--size <n>', 'members', int('--size'))
    .action(async (name: string, command: string[], o: { image: string; flavor?: string; cpus?: number; memory?: number; size: number }) => {
      const r = await (await api()).groups.create(name, {
        image: o.image, size: o.size, ...(o.flavor ? { flavor: o.flavor } : {}), ...(o.cpus ? { cpus: o.cpus } : {}), ...(o.memory ? { memoryMb: o.memory } : {}),
        ...(command.length ? { command } : {}),
      });
      env.out({ name: r.name, size: r.spec.size, state: r.status.state });
    });
  g.command('list').action(async () => env.out((await (await api()).groups.listAll()).map((r) => ({ name: r.name, state: r.status.state, size: `${r.status.size ?? 0}/${r.spec.size}`, running: r.status.running, image: r.spec.image, flavor: r.spec.flavor ?? `${r.spec.cpus ?? 0.25}cpu/${r.spec.memoryMb ?? 128}MiB`, replaced: r.status.replaced ?? 0 })), COLS));
  g.command('show <name>').action(async (name: string) => env.out(await (await api()).groups.get(name)));
  g.command('resize <name>').requiredOption('--size <n>', 'members', int('--size')).action(async (name: string, o: { size: number }) => {
    const a = await api();
    const cur = await a.groups.get(name);
    const r = await a.groups.update(name, { spec: { ...cur.spec, size: o.size } }, cur.resourceVersion);
    env.out({ name: r.name, size: r.spec.size });
  });
  g.command('delete <name>').action(async (name: string) => { await (await api()).groups.delete(name); env.out({ deleting: name }); });
}
