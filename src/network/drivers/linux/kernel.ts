/**
 * Thin wrappers over `ip` (iproute2) for links, addresses and namespaces, plus
 * the few sysctls the driver needs. Argument arrays only.
 */
import { createSocket } from 'node:dgram';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Runner } from './exec.ts';

export interface LinkInfo {
  ifname: string;
  alias?: string;
  master?: string;
  mtu: number;
  kind?: string;
  address?: string;
}

export class Kernel {
  constructor(private readonly run: Runner, readonly netnsDir = '/var/run/netns', readonly etcNetnsDir = '/etc/netns') {}

  ip(args: string[], allowFail = false) {
    return this.run('ip', args, { allowFail });
  }

  async links(netns?: string): Promise<LinkInfo[]> {
    const args = netns ? ['-n', netns, '-j', '-d', 'link', 'show'] : ['-j', '-d', 'link', 'show'];
    const r = await this.ip(args);
    const list = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; ifalias?: string; master?: string; mtu: number; address?: string; linkinfo?: { info_kind?: string } }>;
    return list.map((l) => ({ ifname: l.ifname, alias: l.ifalias, master: l.master, mtu: l.mtu, address: l.address, kind: l.linkinfo?.info_kind }));
  }

  async addrs(dev: string, netns?: string): Promise<string[]> {
    const args = [...(netns ? ['-n', netns] : []), '-j', 'addr', 'show', 'dev', dev];
    const r = await this.ip(args, true);
    if (r.code !== 0) return [];
    const list = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
    return (list[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  }

  /** Every IPv4 address of the root namespace as `{dev, cidr}` (cidr keeps host bits). */
  async hostAddrs(): Promise<{ dev: string; cidr: string }[]> {
    const r = await this.ip(['-4', '-j', 'addr', 'show']);
    const list = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
    return list.flatMap((l) => (l.addr_info ?? []).map((a) => ({ dev: l.ifname, cidr: `${a.local}/${a.prefixlen}` })));
  }

  async linkExists(dev: string, netns?: string): Promise<boolean> {
    const r = await this.ip([...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', dev], true);
    return r.code === 0;
  }

  async deleteLink(dev: string): Promise<void> {
    if (await this.linkExists(dev)) await this.ip(['link', 'del', 'dev', dev], true);
  }

  async netnsList(): Promise<string[]> {
    try {
      return await readdir(this.netnsDir);
    } catch {
      return [];
    }
  }

  /** Names with a per-namespace /etc directory (may outlive a namespace after a crash). */
  async netnsEtcList(): Promise<string[]> {
    try {
      return await readdir(this.etcNetnsDir);
    } catch {
      return [];
    }
  }

  netnsPath(name: string): string {
    return `${this.netnsDir}/${name}`;
  }

  async ensureNetns(name: string): Promise<void> {
    if (!(await this.netnsList()).includes(name)) await this.ip(['netns', 'add', name]);
    await this.ip(['-n', name, 'link', 'set', 'dev', 'lo', 'up']);
  }

  async deleteNetns(name: string): Promise<void> {
    if ((await this.netnsList()).includes(name)) await this.ip(['netns', 'del', name]);
    await rm(`${this.etcNetnsDir}/${name}`, { recursive: true, force: true });
  }

  /** Files under /etc/netns/<ns>/ are bind-mounted over /etc by `ip netns exec`. */
  async writeNetnsEtc(name: string, file: string, content: string): Promise<void> {
    await mkdir(`${this.etcNetnsDir}/${name}`, { recursive: true });
    await writeFile(`${this.etcNetnsDir}/${name}/${file}`, content);
  }

  async sysctl(path: string, value: string): Promise<void> {
    await writeFile(`/proc/sys/${path}`, value);
  }

  async trySysctl(path: string, value: string): Promise<boolean> {
    try {
      await this.sysctl(path, value);
      return true;
    } catch {
      return false;
    }
  }
}

/** True when nothing on the host listens on the address (bind probe). */
export function portIsFree(protocol: 'tcp' | 'udp', host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
      return;
    }
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code !== 'EADDRINUSE'));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
