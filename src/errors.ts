/**
 * vmlock's own errors. Each carries a stable code (VMLOCK_ERR_*) so callers and
 * operators branch on the code, never on message text.
 */
export type VmlockErrorCode =
  | 'VMLOCK_ERR_CONFIG'
  | 'VMLOCK_ERR_PAYLOAD'
  | 'VMLOCK_ERR_SERVICE_UNAVAILABLE'
  | 'VMLOCK_ERR_NOT_FOUND'
  | 'VMLOCK_ERR_USAGE'
  | 'VMLOCK_ERR_SOAP_PARSE'
  | 'VMLOCK_ERR_TRANSPORT';

export class VmlockError extends Error {
  readonly code: VmlockErrorCode;
  constructor(code: VmlockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'VmlockError';
  }
}

/** One or more problems in a configuration file or the environment overrides. */
export class ConfigError extends VmlockError {
  readonly problems: readonly { key: string; source: string; message: string }[];
  constructor(problems: readonly { key: string; source: string; message: string }[]) {
    super(
      'VMLOCK_ERR_CONFIG',
      'invalid configuration:\n' + problems.map((p) => `  ${p.source}: ${p.key}: ${p.message}`).join('\n'),
    );
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** A queue payload or message that does not match its schema. */
export class PayloadError extends VmlockError {
  constructor(what: string, problems: string) {
    super('VMLOCK_ERR_PAYLOAD', `invalid ${what}: ${problems}`);
    this.name = 'PayloadError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
