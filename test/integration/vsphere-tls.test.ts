import { VCSIM_DIR } from '../helpers/fixtures.ts';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereClient } from '../../src/vsphere/client.ts';
import { TransportError } from '../../src/vsphere/faults.ts';
import { createLogger } from '../../src/log.ts';

/** TLS against a real HTTPS server with a freshly made self-signed certificate for 127.0.0.1. */
const VCSIM = VCSIM_DIR;
const fixture = (prefix: string) => readFileSync(VCSIM + readdirSync(VCSIM).find((f) => f.startsWith(prefix) && f.endsWith('.response.xml'))!, 'utf8');

let dir: string;
let server: Server;
let url: string;
let sha1: string;
let sha256: string;
let bodiesSeen = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmlock-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const der = new X509Certificate(cert).raw;
  sha1 = createHash('sha1').update(der).digest('hex').match(/../g)!.join(':');
  sha256 = createHash('sha256').update(der).digest('hex');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodiesSeen++;
      const login = body.includes('Login');
      res.writeHead(200, { 'Content-Type': 'text/xml', ...(login ? { 'Set-Cookie': 'vmware_soap_session=tls-1; HttpOnly' } : {}) });
      res.end(login ? fixture('02-') : body.includes('Logout') ? fixture('52-') : fixture('01-'));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/sdk`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  rmSync(dir, { recursive: true, force: true });
});

async function connectWith(tls: ConstructorParameters<typeof VsphereClient>[0]['tls'], log?: string[]): Promise<unknown> {
  const logger = log ? createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (log.push(String(c)), cb()) }) as never }) : undefined;
  const client = new VsphereClient({ name: 'tls', url, user: 'user', password: 'pass', tls, callTimeoutMs: 10_000, logger });
  try {
    await client.connect();
    return client.sessionKey;
  } catch (err) {
    return err;
  } finally {
    await client.close();
  }
}

describe('TLS', () => {
  it('verifies by default: a self-signed certificate is refused', async () => {
    const err = await connectWith(undefined);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/self[- ]signed/i);
    expect((err as Error).message).toMatch(/--ca-file.*--thumbprint/);
  });

  it('accepts the certificate when its CA file is given', async () => {
    expect(await connectWith({ caFile: join(dir, 'cert.pem') })).toBe('f67815cf-3a39-42b2-9be6-ee45e2772723'); // the vcsim UserSession.key
  });

  it('pins by SHA-1 (with colons) or SHA-256 thumbprint', async () => {
    expect(typeof (await connectWith({ thumbprint: sha1 }))).toBe('string');
    expect(typeof (await connectWith({ thumbprint: sha256.toUpperCase() }))).toBe('string');
  });

  it('a wrong pin fails before any request byte is sent', async () => {
    const before = bodiesSeen;
    const err = await connectWith({ thumbprint: 'AB'.repeat(32) });
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/fingerprint mismatch/);
    expect(bodiesSeen).toBe(before);
  });

  it('insecure only when set, with a warning', async () => {
    const log: string[] = [];
    expect(typeof (await connectWith({ insecure: true }, log))).toBe('string');
    expect(log.join('')).toMatch(/TLS verification disabled/);
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
  });

  it('an unreadable CA file is a clear error', () => {
    expect(() => new VsphereClient({ name: 'x', url, user: 'u', password: 'p', tls: { caFile: join(dir, 'missing.pem') } })).toThrow(/cannot read tls.caFile .*missing\.pem: ENOENT/);
  });
});
