/** yun flavor | image | instance | pool | server-group. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { compute } from '../../sdk/compute.ts';
import type { CliEnv } from '../env.ts';

const flat = (r: { name: string; id: string; spec: object; status: object; createdAt?: string }) => ({ ...r, ...r.spec, ...r.status, name: r.name, id: r.id });
const collect = (v: string, prev: string[]) => [...prev, v];
const envPairs = (xs: string[]) => Object.fromEntries(xs.map((x) => { const i = x.indexOf('='); if (i < 1) throw new Error(`--env wants NAME=VALUE, got '${x}'`); return [x.slice(0, i), x.slice(i + 1)]; }));

export function registerComputeCommands(program: Command, env: CliEnv): void {
  const cc = async () => compute(await env.client());

  const flavor = program.command('flavor').description('instance sizes');
  flavor.command('list').action(async () => env.out((await (await cc()).flavors()).items.map(flat), ['name', 'vcpus', 'ramMb', 'diskGb', 'projects']));
  flavor.command('show <name>').action(async (n: string) => env.out(await (await env.client()).request('GET', `/v1/flavors/${n}`)));
  flavor.command('create <name>').description('cloud admins').requiredOption('--vcpus <n>', 'vCPUs', Number).requiredOption('--ram <mb>', 'RAM MiB', Number)
    .option('--disk <gb>', 'root disk GB', Number, 1).option('--project <p>', 'private to this project (repeatable)', collect, [] as string[])
    .action(async (name: string, o: { vcpus: number; ram: number; disk: number; project: string[] }) => env.out(await (await env.client()).request('POST', '/v1/flavors', {
      body: { name, spec: { vcpus: o.vcpus, ramMb: o.ram, diskGb: o.disk, ...(o.project.length ? { projects: o.project } : {}) } } })));
  flavor.command('delete <name>').action(async (n: string) => { await (await env.client()).request('DELETE', `/v1/flavors/${n}`); env.out({ deleted: n }); });

  const image = program.command('image').description('images');
  image.command('list').action(async () => env.out((await (await cc()).images()).map(flat), ['name', 'state', 'os', 'arch', 'sizeBytes', 'sha256', 'public']));
  image.command('show <name>').action(async (n: string) => env.out(await (await env.client()).request('GET', `/v1/images/${n}`)));
  image.command('delete <name>').action(async (n: string) => { await (await env.client()).request('DELETE', `/v1/images/${n}`); env.out({ deleted: n }); });
  image.command('build <kind>').description('busybox | node | tiny-vm, from the host\'s binaries (tiny-vm: Debian kernel + busybox initramfs)').option('--name <name>').option('--public')
    .action(async (kind: string, o: { name?: string; public?: boolean }) => {
      if (kind !== 'busybox' && kind !== 'node' && kind !== 'tiny-vm') throw new Error('build busybox, node or tiny-vm');
      const c = await cc();
      const name = o.name ?? kind;
      await c.buildImage(name, kind, o.public ? { public: true } : {});
      const r = await c.c.resource('images').waitFor(name, (x) => ['available', 'error'].includes(String(x.status.state)), 300_000);
      env.out(flat(r as never));
    });
  image.command('import <file>').description('a rootfs tar(.gz), an OCI layout packed as tar (--format oci), or a VM disk (--format disk; default for .qcow2/.raw/.img)').requiredOption('--name <name>')
    .option('--format <f>', 'rootfs | oci | disk').option('--min-flavor <flavor>').option('--public')
    .action(async (file: string, o: { name: string; format?: 'rootfs' | 'oci' | 'disk'; minFlavor?: string; public?: boolean }) => {
      o.format ??= /\.(qcow2|raw|img)$/i.test(file) ? 'disk' : 'rootfs';
      const size = (await stat(file)).size;
      const bar = env.format() === 'table' && process.stderr.isTTY ? new SingleBar({ format: 'upload [{bar}] {percentage}% {value}/{total} bytes' }) : undefined;
      bar?.start(size, 0);
      let sent = 0;
      const src = createReadStream(file).on('data', (b) => { sent += b.length; bar?.update(sent); });
      const r = await (await cc()).importImage(o.name, Readable.toWeb(src) as unknown as BodyInit, { format: o.format, ...(o.minFlavor ? { minFlavor: o.minFlavor } : {}), ...(o.public ? { public: true } : {}) });
      bar?.stop();
      env.out(flat(r as never));
    });

  const inst = program.command('instance').alias('server').description('instances');
  inst.command('list').option('--all-projects').action(async (o: { allProjects?: boolean }) => {
    const c = await env.client();
    const items = await c.resource('instances').listAll({ allProjects: o.allProjects });
    const ips = (r: { status: { addresses?: unknown } }) => ((r.status.addresses ?? []) as { network: string; ip: string }[]).map((a) => `${a.network}=${a.ip}`).join(',');
    env.out(items.map((r) => ({ ...flat(r as never), size: r.spec.size ? `${(r.spec.size as { vcpus: number }).vcpus}c/${(r.spec.size as { ramMb: number }).ramMb}M` : '', addresses: ips(r as never) })),
      ['name', 'state', 'type', 'image', 'flavor', 'size', 'addresses', 'host', 'reason']);
  });
  inst.command('show <name>').action(async (n: string) => env.out(await (await cc()).instance(n).get()));
  inst.command('create <name> [command...]').description('yun instance create web1 --image busybox --flavor m1.small -- httpd -f -p 8080')
    .requiredOption('--image <image>').option('--type <type>', 'container | vm').option('--flavor <flavor>').option('--cpus <n>', 'ad-hoc vCPUs', Number).option('--memory <mb>', 'ad-hoc RAM MiB', Number)
    .option('--env <NAME=VALUE>', 'repeatable', collect, [] as string[]).option('--user-data <file>').option('--restart <policy>', 'never | on-failure | always')
    .option('--hostname <h>').option('--pool <pool>').option('--server-group <g>').option('--label <k=v>', 'repeatable', collect, [] as string[])
    .option('--network <name[:ip]>', 'network to join, optionally with a static address (repeatable; default: the project\'s default network)', collect, [] as string[])
    .option('--security-group <g>', 'repeatable; default: the project\'s default group', collect, [] as string[])
    .option('--no-wait', 'return at once instead of waiting for running')
    .action(async (name: string, command: string[], o: { image: string; type?: 'container' | 'vm'; flavor?: string; cpus?: number; memory?: number; env: string[]; userData?: string; restart?: 'never'; hostname?: string; pool?: string; serverGroup?: string; label: string[]; network: string[]; securityGroup: string[]; wait: boolean }) => {
      const c = await cc();
      const vm = await c.launch({
        name, image: o.image, ...(o.type ? { type: o.type } : {}), ...(o.flavor ? { flavor: o.flavor } : { cpus: o.cpus, memoryMb: o.memory }),
        ...(command.length ? { command } : {}), ...(o.env.length ? { env: envPairs(o.env) } : {}),
        ...(o.userData ? { userData: await readFile(o.userData, 'utf8') } : {}), ...(o.restart ? { restartPolicy: o.restart } : {}),
        ...(o.hostname ? { hostname: o.hostname } : {}), ...(o.pool ? { pool: o.pool } : {}), ...(o.serverGroup ? { serverGroup: o.serverGroup } : {}),
        ...(o.label.length ? { labels: envPairs(o.label) } : {}),
        ...(o.network.length ? { networks: o.network } : {}), ...(o.securityGroup.length ? { securityGroups: o.securityGroup } : {}),
      });
      if (!o.wait) return env.out(flat(await vm.get() as never));
      const spin = env.format() === 'table' && process.stderr.isTTY;
      const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
      let i = 0;
      let state = 'pending';
      const t = spin ? setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${name}: ${state}   `), 80) : undefined;
      try {
        // a one-shot command may have run to completion before the first poll: that is a successful launch
        const r = await vm.waitFor('running', 300_000, (s) => { state = s; }).catch(async (e: Error) => {
          const now = await vm.get();
          if (now.status.state === 'exited' && now.status.startedAt && now.status.exitCode === 0) return now;
          throw e;
        });
        if (spin) process.stderr.write('\r');
        env.out(flat(r as never), env.format() === 'table' ? ['name', 'id', 'state', 'host', 'pid', 'image', 'flavor', 'metadataUrl'] : undefined);
      } finally {
        if (t) clearInterval(t);
      }
    });
  for (const a of ['start', 'stop', 'reboot'] as const) {
    inst.command(`${a} <name>`).action(async (n: string) => env.out(flat(await (await cc()).instance(n)[a]() as never), ['name', 'state', 'powerState']));
  }
  inst.command('rebuild <name>').option('--image <image>').action(async (n: string, o: { image?: string }) => env.out(flat(await (await cc()).instance(n).rebuild(o.image) as never), ['name', 'state', 'image']));
  inst.command('resize <name>').option('--flavor <flavor>').option('--cpus <n>', '', Number).option('--memory <mb>', '', Number).option('--allow-restart')
    .action(async (n: string, o: { flavor?: string; cpus?: number; memory?: number; allowRestart?: boolean }) =>
      env.out(flat(await (await cc()).instance(n).resize({ ...(o.flavor ? { flavor: o.flavor } : { cpus: o.cpus, memoryMb: o.memory }), ...(o.allowRestart ? { allowRestart: true } : {}) }) as never), ['name', 'state', 'flavor', 'size']));
  /** The groups an instance is in (none named: the default group). */
  const groupsOf = async (n: string) => {
    const named = (await (await cc()).instance(n).get()).spec.securityGroups ?? [];
    return named.length ? named : ['default'];
  };
  const setGroups = async (n: string, groups: string[]) => env.out(flat(await (await cc()).instance(n).setSecurityGroups(groups) as never), ['name', 'state', 'securityGroups']);
  inst.command('add-security-group <name> <group>').description('live: the new rules apply without a restart')
    .action(async (n: string, g: string) => setGroups(n, [...new Set([...(await groupsOf(n)), g])]));
  inst.command('remove-security-group <name> <group>').description('live; with no group left the instance is in the default group')
    .action(async (n: string, g: string) => {
      const cur = await groupsOf(n);
      if (!cur.includes(g)) throw new Error(`instance ${n} is not in security group ${g}`);
      await setGroups(n, cur.filter((x) => x !== g));
    });
  inst.command('delete <name>').action(async (n: string) => { await (await cc()).instance(n).delete(); env.out({ deleting: n }); });
  inst.command('logs <name>').option('-f, --follow').option('--tail <bytes>', '', Number).action(async (n: string, o: { follow?: boolean; tail?: number }) => {
    const vm = (await cc()).instance(n);
    if (o.follow) await vm.followLogs((s) => process.stdout.write(s), { tailBytes: o.tail });
    else process.stdout.write(await vm.logs({ tailBytes: o.tail }));
  });
  inst.command('exec <name> <command...>').description('yun instance exec web1 -- ps').action(async (n: string, command: string[]) => {
    const r = await (await cc()).instance(n).exec(command);
    if (env.format() !== 'table') return env.out(r);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exitCode = r.exitCode;
  });
  inst.command('stats <name>').action(async (n: string) => env.out(await (await cc()).instance(n).stats()));

  program.command('pool').description('resource pools').command('list').action(async () =>
    env.out((await (await cc()).pools()).items, ['name', 'hosts', 'zones', 'overcommit', 'capacity', 'allocatable', 'allocated']));

  const sg = program.command('server-group').description('affinity / anti-affinity groups');
  sg.command('list').action(async () => env.out((await (await env.client()).resource('server-groups').listAll()).map(flat), ['name', 'policy']));
  sg.command('create <name>').requiredOption('--policy <p>', 'affinity | anti-affinity').action(async (n: string, o: { policy: string }) =>
    env.out(await (await env.client()).resource('server-groups').create(n, { policy: o.policy })));
  sg.command('delete <name>').action(async (n: string) => { await (await env.client()).resource('server-groups').delete(n); env.out({ deleted: n }); });
}
