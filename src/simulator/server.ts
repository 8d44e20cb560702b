/**
 * The HTTP(S) front: POST /sdk for vim25 SOAP, /_sim/* for the control API.
 * The session travels in the vmware_soap_session cookie that Login sets.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SimContext } from './context.ts';
import type { Control } from './control.ts';
import { DEV_TLS_CERT, DEV_TLS_KEY } from './dev-tls.ts';
import { handleSoap } from './dispatch.ts';

export const SESSION_COOKIE = 'vmware_soap_session';
const MAX_BODY = 16 * 1024 * 1024;

export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === SESSION_COOKIE) return part.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, json: unknown): void {
  const body = JSON.stringify(json);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface ServerOptions {
  tls: boolean;
  latencyMs: number;
}

export function createSimServer(ctx: SimContext, control: Control, opts: ServerOptions): Server {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res).catch((err: unknown) => {
      ctx.logger.error({ err }, 'simulator request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal simulator error' });
      else res.destroy();
    });
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      let parsed: unknown;
      const text = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req);
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          sendJson(res, 400, { error: 'the request body is not valid JSON' });
          return;
        }
      }
      const r = control.handle(req.method ?? 'GET', url, parsed);
      ctx.logger.debug({ method: req.method, path: url.pathname, status: r.status }, 'control call');
      sendJson(res, r.status, r.json);
      return;
    }
    if (url.pathname !== '/sdk' && url.pathname !== '/sdk/') {
      sendJson(res, 404, { error: `nothing at ${url.pathname}; SOAP is at POST /sdk, the control API under /_sim/` });
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' });
      res.end('POST a SOAP envelope to /sdk\n');
      return;
    }
    const body = await readBody(req);
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    const result = await handleSoap(
      ctx,
      body,
      { cookie: sessionCookie(req.headers.cookie), ip: req.socket.remoteAddress ?? '', userAgent: String(req.headers['user-agent'] ?? ''), signal: aborter.signal },
      opts.latencyMs,
    );
    if (aborter.signal.aborted) return;
    const headers: Record<string, string | number> = {
      'content-type': 'text/xml; charset=utf-8',
      'content-length': Buffer.byteLength(result.body),
    };
    if (result.session) headers['set-cookie'] = `${SESSION_COOKIE}="${result.session.key}"; Path=/; HttpOnly${opts.tls ? '; Secure' : ''}`;
    res.writeHead(result.status, headers);
    res.end(result.body);
  };
  const server = opts.tls ? createHttpsServer({ key: DEV_TLS_KEY, cert: DEV_TLS_CERT }, handler) : createHttpServer(handler);
  server.keepAliveTimeout = 30_000;
  // A blocking WaitForUpdatesEx may hold a request for up to 15 minutes.
  server.requestTimeout = 0;
  return server;
}
