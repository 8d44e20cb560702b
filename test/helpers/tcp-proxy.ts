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
  /**
   * With `amqpFrames`: sends raw bytes (whole AMQP frames) to every client as if
   * the server had sent them. Server data is forwarded frame by frame, so this
   * always lands on a frame boundary.
   */
  injectToClients(bytes: Buffer): void;
}

export interface TcpProxyOptions {
  port?: number;
  /** Forward server-to-client data in whole AMQP 0-9-1 frames (for injectToClients). */
  amqpFrames?: boolean;
}

/** Splits off the complete AMQP frames (type, channel, size, payload, 0xCE) at the head of buf. */
function completeFrames(buf: Buffer): { frames: Buffer; rest: Buffer } {
  let end = 0;
  while (buf.length - end >= 8) {
    const size = buf.readUInt32BE(end + 3);
    if (buf.length - end < 8 + size) break;
    end += 8 + size;
  }
  return { frames: buf.subarray(0, end), rest: buf.subarray(end) };
}

export async function startTcpProxy(target: { host: string; port: number }, opts: TcpProxyOptions = {}): Promise<TcpProxy> {
  const port = opts.port ?? 0;
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
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
        clients.add(client);
        client.on('close', () => clients.delete(client));
        client.pipe(upstream);
        if (!opts.amqpFrames) {
          upstream.pipe(client);
          return;
        }
        let held = Buffer.alloc(0);
        upstream.on('data', (chunk: Buffer) => {
          const { frames, rest } = completeFrames(Buffer.concat([held, chunk]));
          held = Buffer.from(rest);
          if (frames.length) client.write(frames);
        });
        upstream.on('end', () => client.end());
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
    injectToClients(bytes: Buffer) {
      for (const c of clients) c.write(bytes);
    },
  };
}
