/** First retry delay of a failed publish; it doubles up to rabbitmq.maxBackoff. */
export const INITIAL_BACKOFF_MS = 250;

/** Delay before retry number `attempt` (1-based): exponential, capped, with ±20 % jitter so restarts do not stampede. */
export function backoffDelay(attempt: number, maxBackoffMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxBackoffMs, INITIAL_BACKOFF_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.max(1, Math.round(Math.min(maxBackoffMs, jittered)));
}

export { sleep } from '../util/sleep.ts';
