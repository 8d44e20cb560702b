import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may hold credentials anywhere in a log object. pino checks them at
 * construction; a log line never carries a password, token or session cookie.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  '*.*.token',
  'cookie',
  '*.cookie',
  'headers.cookie',
  'headers.authorization',
  '*.headers.cookie',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'sessionKey',
  '*.sessionKey',
  'url.password',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.VMLOCK_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: opts.name ? { component: opts.name } : {},
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** Removes user:password from a URL before it is logged or printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
  }
}
