import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { YunError } from '../../../core/errors.ts';
import { run } from '../host.ts';
import type { InjectedFile, WorkloadNic } from '../types.ts';

/**
 * cloud-init NoCloud seed: an ISO 9660 image with volume id `cidata` holding
 * `user-data`, `meta-data` and `network-config` (the layout cloud-init's
 * NoCloud datasource reads from any attached disk with that label).
 * The NICs' static addresses go into network-config (version 2, matched by
 * MAC) and, for images without cloud-init, into `yun-network`: one line per
 * NIC, `<mac> <ip>/<prefix> <gateway or ->` (gateway on the first only).
 * Injected files go under `yun-files/<path>` (Rock Ridge keeps names and
 * modes); the tiny image copies them into place, other images ignore them.
 */
export interface SeedContent {
  instanceId: string;
  hostname: string;
  /** Raw user-data (a `#!` script or `#cloud-config`). Empty when absent. */
  userData?: string;
  /** network-config (version 1 or 2 YAML); default: made from `nics` (none: no interfaces configured). */
  networkConfig?: string;
  /** The VM's NICs in order; the first carries the default route. */
  nics?: WorkloadNic[];
  files?: InjectedFile[];
}

const DEFAULT_NETWORK_CONFIG = 'version: 2\nethernets: {}\n';

/** cloud-init network-config v2 for static addresses (every value was validated by the driver). */
export function networkConfigFor(nics: WorkloadNic[]): string {
  if (nics.length === 0) return DEFAULT_NETWORK_CONFIG;
  const out = ['version: 2', 'ethernets:'];
  nics.forEach((n, i) => {
    out.push(
      `  eth${i}:`,
      `    match: {macaddress: ${q(n.mac)}}`,
      `    set-name: eth${i}`,
      `    addresses: [${q(`${n.ip}/${n.prefix}`)}]`,
      ...(i === 0 ? [`    routes: [{to: default, via: ${q(n.gateway)}}]`] : []),
      `    nameservers: {addresses: [${q(n.gateway)}]${n.searchDomain ? `, search: [${q(n.searchDomain)}]` : ''}}`,
    );
  });
  return `${out.join('\n')}\n`;
}

export const yunNetworkFor = (nics: WorkloadNic[]): string =>
  nics.map((n, i) => `${n.mac} ${n.ip}/${n.prefix} ${i === 0 ? n.gateway : '-'}\n`).join('');

/** YAML-safe scalar: the id and hostname are validated DNS labels, quote anyway. */
const q = (s: string) => JSON.stringify(s);

export async function buildSeedImage(out: string, c: SeedContent): Promise<void> {
  const work = await mkdtemp(join(dirname(out), '.seed-'));
  try {
    const root = join(work, 'root');
    await mkdir(root);
    await writeFile(join(root, 'user-data'), c.userData ?? '');
    await writeFile(join(root, 'meta-data'), `instance-id: ${q(c.instanceId)}\nlocal-hostname: ${q(c.hostname)}\n`);
    await writeFile(join(root, 'network-config'), c.networkConfig ?? networkConfigFor(c.nics ?? []));
    await writeFile(join(root, 'yun-network'), yunNetworkFor(c.nics ?? []));
    for (const f of c.files ?? []) {
      const p = join(root, 'yun-files', f.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.content, { mode: f.mode ?? 0o644 });
    }
    const tmp = join(work, 'seed.iso');
    const r = await run('genisoimage', ['-quiet', '-output', tmp, '-volid', 'cidata', '-joliet', '-rock', root]);
    if (r.code !== 0) {
      throw new YunError('DriverFailed', `genisoimage failed: ${r.stderr.trim().slice(0, 500)}`, { details: { tool: 'genisoimage', stderr: r.stderr } });
    }
    await rename(tmp, out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
