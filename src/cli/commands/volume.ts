/**
 * `yun volume …` — block storage from the shell:
 *   yun volume create data1 --size 1 [--type file|qcow2] [--from-snapshot S | --from-image I]
 *   yun volume attach data1 --instance vm1 [--mount-path /data]
 *   yun volume detach data1 · yun volume extend data1 --size 2 · yun volume delete data1
 *   yun volume snapshot create data1 --name before-upgrade · snapshot list · snapshot delete NAME
 * Attach, detach and extend wait for the controller unless --no-wait.
 */
import type { Command } from 'commander';
import { BlockApi } from '../../sdk/block.ts';
import type { CliEnv } from '../env.ts';

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`${name} must be a positive number, got '${v}'`);
  return n;
};

type R = { id: string; name: string; spec: object; status: Record<string, unknown> };
const row = (r: R) => {
  const st = r.status as { attachment?: { instance?: string; mountPath?: string; serial?: string } };
  return { name: r.name, id: r.id, ...r.spec, ...r.status, attachedTo: st.attachment?.instance ?? '', where: st.attachment?.mountPath ?? (st.attachment?.serial ? `virtio-${st.attachment.serial}` : '') };
};
const COLS = ['name', 'state', 'sizeGb', 'type', 'attachedTo', 'where', 'fromSnapshot', 'allocatedBytes'];

export function registerVolumeCommands(program: Command, env: CliEnv): void {
  const api = async () => new BlockApi(await env.client());
  const vol = program.command('volume').description('block storage volumes and snapshots');

  vol.command('create <name>').option('--size <gb>', 'GB', num('--size')).option('--type <type>', 'file (raw; containers and VMs) | qcow2 (VMs)')
    .option('--from-snapshot <snapshot>').option('--from-image <image>', 'a VM image\'s disk, or a container image\'s files on ext4').option('--no-wait')
    .action(async (name: string, o: { size?: number; type?: 'file' | 'qcow2'; fromSnapshot?: string; fromImage?: string; wait: boolean }) => {
      const b = await api();
      let size = o.size;
      if (size === undefined && o.fromSnapshot) size = Number((await b.snapshots.get(o.fromSnapshot)).status.sizeGb);
      if (size === undefined) throw new Error('--size is required (or --from-snapshot)');
      await b.volumes.create(name, { sizeGb: size, ...(o.type ? { type: o.type } : {}), ...(o.fromSnapshot ? { fromSnapshot: o.fromSnapshot } : {}), ...(o.fromImage ? { fromImage: o.fromImage } : {}) });
      env.out(row((o.wait ? await b.waitVolume(name, 'available') : await b.volumes.get(name)) as R), COLS);
    });
  vol.command('list').action(async () => env.out((await (await api()).volumes.listAll()).map((r) => row(r as R)), COLS));
  vol.command('show <name>').action(async (name: string) => env.out(await (await api()).volumes.get(name)));
  vol.command('attach <name>').requiredOption('--instance <instance>').option('--mount-path <path>', 'containers: where it appears (default /mnt/<volume>)').option('--no-wait')
    .action(async (name: string, o: { instance: string; mountPath?: string; wait: boolean }) => {
      const b = await api();
      await b.attach(name, o.instance, o.mountPath ? { mountPath: o.mountPath } : {});
      env.out(row((o.wait ? await b.waitVolume(name, 'in-use', 120_000) : await b.volumes.get(name)) as R), COLS);
    });
  vol.command('detach <name>').option('--no-wait').action(async (name: string, o: { wait: boolean }) => {
    const b = await api();
    await b.detach(name);
    env.out(row((o.wait ? await b.waitVolume(name, 'available', 120_000) : await b.volumes.get(name)) as R), COLS);
  });
  vol.command('extend <name>').requiredOption('--size <gb>', 'new size, GB', num('--size')).option('--no-wait')
    .action(async (name: string, o: { size: number; wait: boolean }) => {
      const b = await api();
      await b.extend(name, o.size);
      const r = o.wait ? await b.volumes.waitFor(name, (v) => Number(v.status.sizeGb) >= o.size || v.status.state === 'error', 120_000) : await b.volumes.get(name);
      env.out(row(r as R), COLS);
    });
  vol.command('delete <name>').action(async (name: string) => { await (await api()).volumes.delete(name); env.out({ deleting: name }); });

  const snap = vol.command('snapshot').description('point-in-time copies of a volume');
  snap.command('create <volume>').requiredOption('--name <name>').option('--description <text>').option('--no-wait')
    .action(async (volume: string, o: { name: string; description?: string; wait: boolean }) => {
      const b = await api();
      await b.snapshots.create(o.name, { volume, ...(o.description ? { description: o.description } : {}) });
      const r = o.wait ? await b.waitSnapshot(o.name) : await b.snapshots.get(o.name);
      env.out({ name: r.name, ...r.spec, ...r.status }, ['name', 'volume', 'state', 'sizeGb', 'type', 'createdAt']);
    });
  snap.command('list').action(async () => env.out((await (await api()).snapshots.listAll()).map((r) => ({ name: r.name, ...r.spec, ...r.status })), ['name', 'volume', 'state', 'sizeGb', 'type', 'createdAt']));
  snap.command('show <name>').action(async (name: string) => env.out(await (await api()).snapshots.get(name)));
  snap.command('delete <name>').action(async (name: string) => { await (await api()).snapshots.delete(name); env.out({ deleting: name }); });
}
