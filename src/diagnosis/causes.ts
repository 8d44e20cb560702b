/**
 * Cause codes, shared with the simulator's scenarios, and what each calls for.
 * `unknown-key-reason:<reason>` keeps a key-unavailable reason this version
 * does not know (newer vCenters add values); it always escalates.
 */
export const CAUSE_CODES = [
  'kms-unreachable',
  'home-key-missing-in-kms',
  'home-key-inactive',
  'keys-missing-on-host',
  'key-status-unavailable',
  'nonboot-disk-key-missing',
  'boot-disk-key-missing',
  'boot-disk-unknown',
  'host-not-crypto-safe',
  'missing-privilege',
  'stale-alarm',
  'not-encrypted',
  'vm-gone',
] as const;
export type KnownCauseCode = (typeof CAUSE_CODES)[number];
export type CauseCode = KnownCauseCode | `unknown-key-reason:${string}`;

export interface Cause {
  code: CauseCode;
  message: string;
  /** The key concerned, as `<provider>/<keyId>`. */
  key?: string;
  keyId?: string;
  provider?: string;
  /** Disk concerned (device key and file). */
  deviceKey?: number;
  fileName?: string;
  /** Privilege that is missing, and where. */
  privilege?: string;
  entity?: string;
  [k: string]: unknown;
}

export interface Advisory {
  code: 'vsan-datastore' | 'differential-keys' | 'unused-key' | 'kms-inactive-keys-cached' | 'mixed-key-chain';
  message: string;
}

/**
 * What a cause calls for:
 *  - act: vmlock fixes it (re-push keys, detach a non-boot disk);
 *  - wait: wait with back-off, re-diagnose on each wake (KMS outage);
 *  - escalate: a human must act, vmlock never guesses;
 *  - close: nothing to fix (stale alarm, VM gone, not encrypted).
 */
export type CauseClass = 'act' | 'wait' | 'escalate' | 'close';

const CLASS: Record<KnownCauseCode, CauseClass> = {
  'kms-unreachable': 'wait',
  'home-key-missing-in-kms': 'escalate',
  'home-key-inactive': 'escalate',
  'keys-missing-on-host': 'act',
  // vCenter before 6.7 U2 cannot report key status: re-push once (harmless), verification decides.
  'key-status-unavailable': 'act',
  'nonboot-disk-key-missing': 'act',
  'boot-disk-key-missing': 'escalate',
  'boot-disk-unknown': 'escalate',
  'host-not-crypto-safe': 'escalate',
  'missing-privilege': 'escalate',
  'stale-alarm': 'close',
  'not-encrypted': 'close',
  'vm-gone': 'close',
};

export function causeClass(code: CauseCode): CauseClass {
  return (CLASS as Record<string, CauseClass | undefined>)[code] ?? 'escalate';
}

export function isUnknownReason(code: CauseCode): boolean {
  return code.startsWith('unknown-key-reason:');
}
