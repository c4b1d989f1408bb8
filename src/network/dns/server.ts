/**
 * A small authoritative DNS responder for one network: A records for names
 * under its zone (`<instance>.<network>.internal`), NODATA for other types of
 * known names, NXDOMAIN for everything else. No recursion, no forwarding:
 * instances only need each other's names. UDP only (answers stay far below
 * 512 bytes).
 */
import { createSocket, type Socket } from 'node:dgram';
import { buildAnswer, buildError, isInClass, parseQuery, QTYPE_A, QTYPE_ANY, RCODE } from './packet.ts';

export interface DnsServerOptions {
  host: string;
  port?: number;
  /** TTL of answers, seconds. */
  ttl?: number;
}

export class DnsServer {
  private readonly records = new Map<string, string[]>();
  private socket?: Socket;
  private readonly opts: Required<DnsServerOptions>;

  constructor(opts: DnsServerOptions) {
    this.opts = { port: 53, ttl: 5, ...opts };
  }

  get host(): string {
    return this.opts.host;
  }

  /** Replaces all records. Names are matched case-insensitively, without trailing dot. */
  setRecords(records: { name: string; ip: string }[]): void {
    this.records.clear();
    for (const r of records) {
      const k = r.name.toLowerCase().replace(/\.$/, '');
      const list = this.records.get(k) ?? [];
      if (!list.includes(r.ip)) list.push(r.ip);
      this.records.set(k, list);
    }
  }

  /** Resolves a name as the server would answer it (for tests and debugging). */
  lookup(name: string): string[] | undefined {
    return this.records.get(name.toLowerCase().replace(/\.$/, ''));
  }

  /** Pure request → reply function; undefined means drop. */
  answer(msg: Buffer): Buffer | undefined {
    const p = parseQuery(msg);
    if (!p.ok) return p.reply && p.id !== undefined ? buildError(p.id, RCODE.FORMERR) : undefined;
    const q = p.query;
    if (!isInClass(q)) return buildAnswer(q, RCODE.REFUSED, []);
    const addrs = this.records.get(q.name);
    if (!addrs) return buildAnswer(q, RCODE.NXDOMAIN, []);
    if (q.qtype === QTYPE_A || q.qtype === QTYPE_ANY) return buildAnswer(q, RCODE.NOERROR, addrs, this.opts.ttl);
    return buildAnswer(q, RCODE.NOERROR, []);
  }

  async listen(): Promise<{ port: number }> {
    if (this.socket) return { port: this.socket.address().port };
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.opts.port, this.opts.host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    s.on('message', (msg, rinfo) => {
      const out = this.answer(msg);
      if (out) s.send(out, rinfo.port, rinfo.address);
    });
    // A send error (e.g. unreachable client) must not crash the agent.
    s.on('error', () => {});
    this.socket = s;
    return { port: s.address().port };
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** resolv.conf for an instance on a network served by a DnsServer at `gateway`. */
export function resolvConf(gateway: string, searchDomain: string): string {
  return `# written by yun\nnameserver ${gateway}\nsearch ${searchDomain}\noptions ndots:1 timeout:1 attempts:2\n`;
}
