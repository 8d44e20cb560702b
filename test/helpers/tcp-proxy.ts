import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A tiny TCP proxy in front of a shared service, so a test can cut the service
 * off (destroy every connection, refuse new ones) and restore it without
 * touching the service itself.
 */
export interface TcpProxy {
  readonly port: number;
  /** Destroys all proxied connections and stops accepting until restore(). */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;

  const listen = (p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const srv = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      srv.once('error', reject);
      srv.listen(p, '127.0.0.1', () => {
        server = srv;
        const addr = srv.address();
        resolve(typeof addr === 'object' && addr ? addr.port : p);
      });
    });

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      const srv = server;
      server = undefined;
      if (!srv) return resolve();
      srv.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  const boundPort = await listen(port);
  return {
    port: boundPort,
    cut: stopListening,
    async restore() {
      if (!server) await listen(boundPort);
    },
    close: stopListening,
  };
}
