/**
 * `yun network|subnet|sg|fip|lb …` — the network service from the shell.
 * Rules use the text form `ingress tcp 80 0.0.0.0/0` (see network/rules.ts).
 */
import type { Command } from 'commander';
import { parseCidr } from '../../network/ipam.ts';
import { ruleText, type SgRule } from '../../network/rules.ts';
import { NetworkApi } from '../../sdk/network.ts';
import type { CliEnv } from '../env.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got '${v}'`);
  return n;
};

/** `http:8081`, `tcp:5432`, `http:127.0.0.1:8081` */
export function parseListener(s: string): { protocol: 'http' | 'tcp'; port: number; hostIp?: string } {
  const m = /^(http|tcp):(?:([0-9.]+):)?([0-9]{1,5})$/.exec(s);
  if (!m) throw new Error(`--listener must look like http:8081 or tcp:127.0.0.1:5432, got '${s}'`);
  return { protocol: m[1] as 'http' | 'tcp', port: Number(m[3]), ...(m[2] ? { hostIp: m[2] } : {}) };
}

/** `app1:80,app3:80` */
export function parseMembers(s: string): { instance: string; port: number }[] {
  return s.split(',').filter(Boolean).map((x) => {
    const m = /^([a-z0-9-]+):([0-9]{1,5})$/.exec(x.trim());
    if (!m) throw new Error(`--members must look like app1:80,app2:80, got '${x}'`);
    return { instance: m[1]!, port: Number(m[2]) };
  });
}

function usable(cidr: string): number {
  const c = parseCidr(cidr, 'cidr', { strict: false });
  return 2 ** (32 - c.prefix) - 3;
}

export function registerNetworkCommands(program: Command, env: CliEnv): void {
  const api = async () => new NetworkApi(await env.client());
  const row = (r: { name: string; spec: object; status: object }) => ({ name: r.name, ...r.spec, ...r.status });

  const network = program.command('network').description('private networks (one IPv4 subnet each)');
  network.command('create <name>').option('--cidr <cidr>', 'e.g. 10.20.0.0/24 (default: a free /24)').option('--gateway <ip>')
    .option('--mtu <n>', 'link MTU', int('--mtu')).option('--nat', 'masquerade traffic leaving the host')
    .action(async (name: string, o: { cidr?: string; gateway?: string; mtu?: number; nat?: boolean }) =>
      env.out(await (await api()).networks.create(name, { ...(o.cidr ? { cidr: o.cidr } : {}), ...(o.gateway ? { gateway: o.gateway } : {}), ...(o.mtu ? { mtu: o.mtu } : {}), ...(o.nat ? { nat: true } : {}) })));
  network.command('list').action(async () => env.out((await (await api()).networks.listAll()).map(row), ['name', 'cidr', 'gateway', 'mtu', 'nat', 'state', 'ports', 'driver']));
  network.command('show <name>').action(async (name: string) => env.out(await (await api()).networks.get(name)));
  network.command('delete <name>').action(async (name: string) => { await (await api()).networks.delete(name); env.out({ deleted: name }); });
  network.command('ports <name>').description('address allocations').action(async (name: string) =>
    env.out((await (await api()).networks.ports(name)).items, ['instance', 'ip', 'dnsName', 'securityGroups']));

  const subnet = program.command('subnet').description('the addressing side of networks (IPAM)');
  subnet.command('list').action(async () => env.out((await (await api()).networks.listAll()).map((n) => ({
    network: n.name, cidr: n.spec.cidr, gateway: n.spec.gateway, used: n.status.ports ?? 0, free: usable(n.spec.cidr!) - Number(n.status.ports ?? 0), dnsDomain: n.status.dnsDomain,
  })), ['network', 'cidr', 'gateway', 'used', 'free', 'dnsDomain']));
  subnet.command('show <network>').description('allocated addresses').action(async (name: string) =>
    env.out((await (await api()).networks.ports(name)).items, ['ip', 'instance', 'dnsName', 'createdAt']));

  const sg = program.command('sg').description('security groups (stateful allow rules)');
  sg.command('create <name>').option('--rule <rule>', "e.g. 'ingress tcp 80 0.0.0.0/0' (repeatable)", collect).option('--description <text>')
    .action(async (name: string, o: { rule?: string[]; description?: string }) =>
      env.out(await (await api()).securityGroups.create(name, { rules: o.rule ?? [], ...(o.description ? { description: o.description } : {}) })));
  sg.command('list').action(async () => env.out((await (await api()).securityGroups.listAll()).map((g) => ({
    name: g.name, description: g.spec.description ?? '', rules: (g.spec.rules as SgRule[]).map(ruleText).join('; '),
  })), ['name', 'rules', 'description']));
  sg.command('show <name>').action(async (name: string) => env.out(await (await api()).securityGroups.get(name)));
  sg.command('delete <name>').action(async (name: string) => { await (await api()).securityGroups.delete(name); env.out({ deleted: name }); });
  const rule = sg.command('rule').description('rules of a security group');
  rule.command('add <group> <rule>').action(async (group: string, r: string) => {
    const g = await (await api()).securityGroups.addRule(group, r);
    env.out(g.spec.rules.map((x) => ({ rule: ruleText(x) })), ['rule']);
  });
  rule.command('delete <group> <rule>').action(async (group: string, r: string) => {
    const g = await (await api()).securityGroups.deleteRule(group, r);
    env.out(g.spec.rules.map((x) => ({ rule: ruleText(x) })), ['rule']);
  });
  rule.command('list <group>').action(async (group: string) => {
    const g = await (await api()).securityGroups.get(group);
    env.out((g.spec.rules as SgRule[]).map((x) => ({ rule: ruleText(x) })), ['rule']);
  });

  const fip = program.command('fip').description('floating IPs / published ports: host address:port → instance port');
  fip.command('create [name]').requiredOption('--instance <name>').requiredOption('--port <n>', 'port inside the instance', int('--port'))
    .option('--host-port <n>', 'host port (default: a free one from 20000-29999)', int('--host-port'))
    .option('--host-ip <ip>', '0.0.0.0 (default, every local address incl. 127.0.0.1) or a host address')
    .option('--protocol <p>', 'tcp (default) or udp').option('--network <name>', 'network of the instance to target')
    .action(async (name: string | undefined, o: { instance: string; port: number; hostPort?: number; hostIp?: string; protocol?: string; network?: string }) => {
      const spec = { instance: o.instance, port: o.port, ...(o.hostPort ? { hostPort: o.hostPort } : {}), ...(o.hostIp ? { hostIp: o.hostIp } : {}),
        ...(o.protocol ? { protocol: o.protocol as 'tcp' | 'udp' } : {}), ...(o.network ? { network: o.network } : {}) };
      env.out(await (await api()).floatingIps.create(name ?? `${o.instance}-${o.port}`, spec));
    });
  fip.command('list').action(async () => env.out((await (await api()).floatingIps.listAll()).map(row), ['name', 'instance', 'port', 'protocol', 'hostIp', 'hostPort', 'state', 'target']));
  fip.command('show <name>').action(async (name: string) => env.out(await (await api()).floatingIps.get(name)));
  fip.command('delete <name>').action(async (name: string) => { await (await api()).floatingIps.delete(name); env.out({ deleted: name }); });

  const lb = program.command('lb').description('load balancers (L4 tcp / L7 http, health checked)');
  lb.command('create <name>').option('--network <name>', 'network of the members', 'default')
    .requiredOption('--listener <proto:port>', 'http:8081 or tcp:5432 (repeatable)', collect)
    .option('--members <list>', 'app1:80,app2:80').option('--algorithm <a>', 'round-robin (default) or least-conn')
    .option('--health <path>', 'HTTP health check path (default: TCP connect)').option('--interval <ms>', 'health check interval', int('--interval'))
    .option('--timeout <ms>', 'health check timeout', int('--timeout')).option('--rise <n>', 'successes to bring a member back', int('--rise'))
    .option('--fall <n>', 'failures to take a member out', int('--fall'))
    .action(async (name: string, o: { network: string; listener: string[]; members?: string; algorithm?: string; health?: string; interval?: number; timeout?: number; rise?: number; fall?: number }) => {
      const healthCheck = { ...(o.health ? { path: o.health } : {}), ...(o.interval ? { intervalMs: o.interval } : {}), ...(o.timeout ? { timeoutMs: o.timeout } : {}),
        ...(o.rise ? { healthyThreshold: o.rise } : {}), ...(o.fall ? { unhealthyThreshold: o.fall } : {}) };
      env.out(await (await api()).loadBalancers.create(name, {
        network: o.network, listeners: o.listener.map(parseListener), members: parseMembers(o.members ?? ''),
        ...(o.algorithm ? { algorithm: o.algorithm as 'round-robin' } : {}), healthCheck,
      }));
    });
  lb.command('list').action(async () => env.out((await (await api()).loadBalancers.listAll()).map((l) => ({
    name: l.name, network: l.spec.network, algorithm: l.spec.algorithm, listeners: l.spec.listeners.map((x) => `${x.protocol}:${x.port}`).join(','),
    members: (l.status.members ?? []).map((m) => `${m.instance}:${m.port}${m.healthy ? '' : '(down)'}`).join(','), state: l.status.state,
  })), ['name', 'network', 'algorithm', 'listeners', 'members', 'state']));
  lb.command('show <name>').action(async (name: string) => env.out(await (await api()).loadBalancers.get(name)));
  lb.command('delete <name>').action(async (name: string) => { await (await api()).loadBalancers.delete(name); env.out({ deleted: name }); });
  const member = lb.command('member').description('members of a load balancer');
  member.command('add <lb> <instance:port>').action(async (name: string, m: string) => {
    const a = await api();
    const cur = await a.loadBalancers.get(name);
    env.out(await a.loadBalancers.update(name, { spec: { ...cur.spec, members: [...(cur.spec.members ?? []), ...parseMembers(m)] } }, cur.resourceVersion));
  });
  member.command('remove <lb> <instance:port>').action(async (name: string, m: string) => {
    const a = await api();
    const cur = await a.loadBalancers.get(name);
    const [gone] = parseMembers(m);
    env.out(await a.loadBalancers.update(name, { spec: { ...cur.spec, members: (cur.spec.members ?? []).filter((x) => !(x.instance === gone!.instance && x.port === gone!.port)) } }, cur.resourceVersion));
  });
}
