/**
 * A TCP proxy on loopback between the service and PostgreSQL, to break the database the way
 * networks do: `cut()` closes every connection and refuses new ones (the database is gone);
 * `hang()` keeps accepting connections and holds what they send, answering nothing (a server or a
 * network path that stopped responding); `restore()` passes traffic again (new connections; the
 * held ones stay stalled until the service drops them, as a real stalled path would).
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'cut' | 'hang';

export interface TcpProxy {
  /** host:port the service should connect to. */
  port: number;
  mode(): ProxyMode;
  cut(): void;
  hang(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    if (mode === 'hang') {
      // Accept and read, never answer.
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    mode: () => mode,
    cut() {
      mode = 'cut';
      for (const s of sockets) s.destroy();
    },
    hang() {
      mode = 'hang';
      // Stall every open connection: stop reading either way, so nothing gets through.
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    restore() {
      mode = 'pass';
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
