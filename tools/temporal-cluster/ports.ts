/**
 * Ports for every listener of a cluster, below the kernel's ephemeral range:
 *  - PostgreSQL keeps a member's membership port in a SMALLINT (`cluster_membership.rpc_port`):
 *    a port above 32767 kills the server at start (`pq: value "45847" is out of range for type
 *    smallint`). The dev server's SQLite does not care, and `freePort()` hands out ports above it.
 *  - Outside the ephemeral range no outgoing connection can take a port while the server is down
 *    for an outage, so a restart on the same ports finds them free.
 */
import net from 'node:net';
import { PORT_NAMES, type ClusterPorts } from './config';

const LOW = 20_000;
const HIGH = 32_767;

export async function allocatePorts(ip: string, frontend?: number): Promise<ClusterPorts> {
  const taken = new Set<number>();
  const ports = {} as ClusterPorts;
  for (const name of PORT_NAMES) {
    const port = name === 'frontend' && frontend ? frontend : await freeLowPort(ip, taken);
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

async function freeLowPort(ip: string, taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (!taken.has(port) && (await canListen(ip, port))) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} on ${ip}`);
}

function canListen(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: ip, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
