import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseXml, child } from './xml.ts';

/**
 * A tiny HTTP server that answers SOAP calls with recorded bodies, for tests
 * and benchmarks of the client when no simulator runs. It records every
 * request (method name, body, cookie) so tests can compare request shapes.
 */
export interface ReplayRequest {
  method: string;
  body: string;
  cookie: string | undefined;
  soapAction: string | undefined;
}

export interface ReplayAnswer {
  status?: number;
  body: string;
  headers?: Record<string, string>;
  /** Delay before answering (to model a blocking WaitForUpdatesEx). */
  delayMs?: number;
}

export type ReplayRouter = (req: ReplayRequest, index: number) => ReplayAnswer | Promise<ReplayAnswer>;

export interface ReplayServer {
  url: string;
  requests: ReplayRequest[];
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The operation name: the first element inside the SOAP Body. */
export function soapMethodOf(body: string): string {
  try {
    const root = parseXml(body);
    return child(root, 'Body')?.children[0]?.name ?? '';
  } catch {
    return '';
  }
}

export async function startReplayServer(router: ReplayRouter): Promise<ReplayServer> {
  const requests: ReplayRequest[] = [];
  const server: Server = createServer((req, res) => {
    readBody(req)
      .then(async (body) => {
        const r: ReplayRequest = { method: soapMethodOf(body), body, cookie: req.headers.cookie, soapAction: req.headers.soapaction as string | undefined };
        const index = requests.push(r) - 1;
        const answer = await router(r, index);
        if (answer.delayMs) await new Promise((ok) => setTimeout(ok, answer.delayMs));
        res.writeHead(answer.status ?? 200, { 'Content-Type': 'text/xml; charset=utf-8', ...(answer.headers ?? {}) });
        res.end(answer.body);
      })
      .catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sdk`,
    requests,
    stop: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
