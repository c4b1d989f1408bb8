/** L4 TCP proxy: each accepted connection is spliced to one member. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Pool } from './pool.ts';

/** The returned server also has closeAllConnections(), like http.Server. */
export function tcpProxy(getPool: () => Pool | undefined): Server & { closeAllConnections(): void } {
  const open = new Set<Socket>();
  const server = createServer((client: Socket) => {
    const m = getPool()?.pick();
    if (!m) {
      client.destroy();
      return;
    }
    m.active++;
    m.total++;
    const upstream = connect({ host: m.spec.host, port: m.spec.port });
    open.add(client);
    open.add(upstream);
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        m.active--;
      }
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', release).on('close', release);
    upstream.on('error', release).on('close', release);
  });
  return Object.assign(server, {
    closeAllConnections() {
      for (const s of open) s.destroy();
      open.clear();
    },
  });
}
