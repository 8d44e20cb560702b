import { InvalidLogin } from '../vsphere/faults.ts';

/**
 * Retry pacing while a vCenter (or Redis) is down: exponential with full
 * jitter, so replicas and vCenters do not retry in step.
 */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 30_000, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A rejected login is not going to fix itself soon, and retrying it quickly can
 * lock the service account out of the directory: wait at least this long.
 */
export const INVALID_LOGIN_PAUSE_MS = 5 * 60_000;

/** The pause before reconnecting after `err` on the given attempt. */
export function reconnectDelay(err: unknown, attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const delay = backoffDelay(attempt, baseMs, maxMs, random);
  return err instanceof InvalidLogin ? Math.max(delay, INVALID_LOGIN_PAUSE_MS) : delay;
}

export { sleep } from '../util/sleep.ts';
