import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';

/**
 * Bearer-token check of the ops HTTP server. The loader already refuses a
 * non-loopback http.host without a token; here the token is read (inline or
 * from tokenFile) and compared in constant time. The token never reaches a log
 * line or an error message.
 */

/** The configured token, or undefined when none is set (then no route asks for one). */
export function resolveHttpToken(http: Config['http']): string | undefined {
  if (http.token !== undefined && http.token !== '') return http.token;
  if (http.tokenFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(http.tokenFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([{ key: 'http.tokenFile', source: http.tokenFile, message: `cannot read: ${code}` }]);
  }
  const token = text.trim();
  if (!token) throw new ConfigError([{ key: 'http.tokenFile', source: http.tokenFile, message: 'the file is empty' }]);
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerFrom(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

/**
 * Constant-time comparison. Both sides are hashed first so the comparison
 * takes the same time whatever the length of the presented token.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
