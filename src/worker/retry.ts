import { isTransient, VimFault } from '../vsphere/faults.ts';
import { LostVmLockError } from '../remediation/execute.ts';
import { VmlockError } from '../errors.ts';

/**
 * Worth retrying later: vCenter's transient faults (network, busy object,
 * expired session), a lost VM lock, and Redis/network errors of our own
 * connections. Permanent vCenter faults and vmlock's own errors are not.
 */
export function shouldRetry(err: unknown): boolean {
  if (isTransient(err) || err instanceof LostVmLockError) return true;
  if (err instanceof VimFault || err instanceof VmlockError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
  return err instanceof Error && /Connection is closed|Redis|ReplyError/i.test(err.name + ' ' + err.message);
}

/** Exponential back-off with full jitter between half and all of the step: base · 2^n, capped. */
export function retryDelay(baseMs: number, attempt: number, capMs = 5 * 60_000): number {
  const step = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(step / 2 + Math.random() * (step / 2));
}
