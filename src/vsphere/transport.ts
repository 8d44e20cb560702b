import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { TransportError } from './faults.ts';
import { redactUrl, type Logger } from '../log.ts';

export interface TlsOptions {
  /** PEM CA bundle that signed vCenter's certificate. */
  caFile?: string;
  /** SHA-1 (40 hex) or SHA-256 (64 hex) fingerprint of vCenter's certificate; colons optional. */
  thumbprint?: string;
  /** Skip verification. Only when set explicitly; logs a warning. */
  insecure?: boolean;
}

export interface HttpReply {
  status: number;
  body: string;
}

const SESSION_COOKIE = 'vmware_soap_session';
/** A response larger than this is refused (a 10k-VM page with full device lists is ~81 MB). */
const MAX_BODY_BYTES = 512 * 1024 * 1024;

function normaliseThumbprint(hex: string): string {
  return hex.replace(/:/g, '').toUpperCase();
}

/**
 * An https.Agent that pins the server certificate by fingerprint. The socket
 * is handed to the request only after the fingerprint matched, so no request
 * byte (and no password) is written to an unpinned peer. Chain verification
 * is replaced by the pin, as vCenter certificates are often self-signed.
 */
class PinnedAgent extends https.Agent {
  private readonly pin: string;
  constructor(pin: string, options: https.AgentOptions) {
    super(options);
    this.pin = normaliseThumbprint(pin);
  }
  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      if (err) {
        socket.destroy();
        callback?.(err, socket);
      } else callback?.(null, socket);
    };
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const seen = normaliseThumbprint((this.pin.length === 40 ? cert.fingerprint : cert.fingerprint256) ?? '');
      if (seen !== this.pin) finish(new TransportError(`TLS certificate fingerprint mismatch for ${options.host ?? 'server'}: expected ${this.pin}, got ${seen || 'none'}`));
      else finish(null);
    });
    socket.once('error', (err) => finish(err));
    return undefined;
  }
}

class StaleSocketError extends TransportError {}

export interface HttpTransportOptions {
  url: string;
  tls?: TlsOptions;
  logger?: Logger;
  /** SOAPAction version, e.g. 8.0.3.0. */
  apiVersion: string;
}

/**
 * POSTs SOAP envelopes to one vCenter: keeps the vmware_soap_session cookie
 * per client (never shared across concurrent clients), applies TLS settings
 * on a private agent, and turns network problems into TransportError. It
 * never logs bodies, headers or the cookie.
 */
export class HttpTransport {
  readonly url: URL;
  private readonly agent: http.Agent;
  private readonly apiVersion: string;
  private cookie: string | undefined;

  constructor(opts: HttpTransportOptions) {
    try {
      this.url = new URL(opts.url);
    } catch {
      throw new TransportError(`invalid vCenter URL "${redactUrl(opts.url)}"`);
    }
    if (this.url.protocol !== 'https:' && this.url.protocol !== 'http:') throw new TransportError(`vCenter URL must be http(s), got ${this.url.protocol}`);
    this.apiVersion = opts.apiVersion;
    const t = opts.tls ?? {};
    if (this.url.protocol === 'http:') {
      // Fine for the local simulator; anywhere else the password crosses the network in clear text.
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(this.url.hostname)) {
        opts.logger?.warn({ vcenter: redactUrl(opts.url) }, 'plain http:// vCenter URL: the login password is sent unencrypted; use https://');
      }
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      return;
    }
    const base: https.AgentOptions = { keepAlive: true, maxSockets: 64 };
    if (t.caFile) {
      try {
        base.ca = readFileSync(t.caFile);
      } catch (err) {
        throw new TransportError(`cannot read tls.caFile ${t.caFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    if (t.thumbprint) {
      this.agent = new PinnedAgent(t.thumbprint, base);
    } else if (t.insecure === true) {
      opts.logger?.warn({ vcenter: redactUrl(opts.url) }, 'TLS verification disabled (tls.insecure: true); the connection can be intercepted');
      this.agent = new https.Agent({ ...base, rejectUnauthorized: false });
    } else {
      this.agent = new https.Agent({ ...base, rejectUnauthorized: true });
    }
  }

  get hasSession(): boolean {
    return this.cookie !== undefined;
  }

  clearSession(): void {
    this.cookie = undefined;
  }

  /**
   * POST one envelope; resolves with status and body for any HTTP status,
   * rejects with TransportError. A keep-alive socket the server closed while
   * idle fails before the request reached it; that case alone is retried once
   * (Node's documented reusedSocket pattern).
   */
  async post(body: string, opts: { timeoutMs: number; method: string }): Promise<HttpReply> {
    try {
      return await this.postOnce(body, opts);
    } catch (err) {
      if (err instanceof StaleSocketError) return this.postOnce(body, opts);
      throw err;
    }
  }

  private postOnce(body: string, opts: { timeoutMs: number; method: string }): Promise<HttpReply> {
    const where = `${this.url.host}${this.url.pathname}`;
    return new Promise<HttpReply>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'text/xml; charset=utf-8',
        SOAPAction: `"urn:vim25/${this.apiVersion}"`,
        'Content-Length': Buffer.byteLength(body),
      };
      if (this.cookie) headers.Cookie = `${SESSION_COOKIE}=${this.cookie}`;
      const mod = this.url.protocol === 'https:' ? https : http;
      let settled = false;
      const fail = (err: TransportError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = mod.request(
        { hostname: this.url.hostname, port: this.url.port || undefined, path: this.url.pathname + this.url.search, method: 'POST', headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) fail(new TransportError(`${opts.method}: response from ${where} exceeds ${MAX_BODY_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('error', (err) => fail(new TransportError(`${opts.method}: reading the response from ${where} failed: ${err.message}`, { cause: err })));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.storeCookie(res.headers['set-cookie']);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      const timer = setTimeout(() => fail(new TransportError(`${opts.method}: no response from ${where} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === 'ECONNRESET' && !settled) {
          settled = true;
          clearTimeout(timer);
          reject(new StaleSocketError(err.message));
          return;
        }
        const cause = err instanceof TransportError ? err.message : `${err.code ?? 'error'}: ${err.message}`;
        const hint = isCertificateError(err) ? ' (vCenter\'s certificate is not trusted: set tls.caFile / --ca-file to its CA, or pin it with tls.thumbprint / --thumbprint)' : '';
        fail(new TransportError(`${opts.method}: request to ${where} failed: ${cause}${hint}`, { cause: err }));
      });
      req.end(body);
    });
  }

  private storeCookie(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const m = new RegExp(`^\\s*${SESSION_COOKIE}=([^;]*)`).exec(line);
      if (m?.[1]) this.cookie = m[1];
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

function isCertificateError(err: NodeJS.ErrnoException): boolean {
  return err.code !== undefined && CERTIFICATE_ERRORS.has(err.code);
}
