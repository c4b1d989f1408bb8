import type { Migration } from '../store/types.ts';

/**
 * The network service's own tables (networks, groups, floating IPs and load
 * balancers live in the generic resource table):
 * - `net_ports`: one row per instance NIC — the IPAM allocation. The unique
 *   (network_id, ip) key makes two allocations of one address impossible,
 *   also across control-plane replicas; deleting the row reclaims the address.
 * - `net_host_ports`: host ports taken by floating IPs and load-balancer
 *   listeners; the primary key refuses a second claim of one port.
 */
export const networkMigrations: Migration[] = [
  {
    service: 'network',
    version: 1,
    up: `
      CREATE TABLE net_ports (
        port_id TEXT PRIMARY KEY, network_id TEXT NOT NULL, project TEXT NOT NULL,
        instance_id TEXT NOT NULL, instance_name TEXT NOT NULL, ip TEXT NOT NULL,
        security_groups TEXT NOT NULL, dns_name TEXT, nic INTEGER NOT NULL, created_at TEXT NOT NULL,
        UNIQUE (network_id, ip), UNIQUE (instance_id, network_id));
      CREATE INDEX net_ports_instance ON net_ports(project, instance_name);
      CREATE TABLE net_host_ports (
        protocol TEXT NOT NULL, host_port INTEGER NOT NULL, owner_id TEXT NOT NULL, owner_kind TEXT NOT NULL,
        PRIMARY KEY (protocol, host_port))`,
  },
  {
    // A VM's NIC is a tap on the bridge, a container's a veth into its namespace.
    service: 'network',
    version: 2,
    up: `ALTER TABLE net_ports ADD COLUMN kind TEXT NOT NULL DEFAULT 'veth'`,
  },
];
