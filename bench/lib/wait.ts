/**
 * Polling with a deadline. The bench observes other processes (the simulator,
 * Redis) it cannot subscribe to, so it asks at a short interval; on time-out
 * the error says what was awaited and the last state seen.
 */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  intervalMs: number;
  /** Called each round; throws to abort (e.g. a child process died). */
  check?: () => void;
  /** Describes the last state in the time-out message. */
  describe?: () => string;
}

export async function waitUntil(cond: () => Promise<boolean> | boolean, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.check?.();
    if (await cond()) return;
    if (Date.now() >= deadline) {
      const state = opts.describe ? ` (last seen: ${opts.describe()})` : '';
      const after = opts.timeoutMs < 1000 ? `${opts.timeoutMs} ms` : `${Math.round(opts.timeoutMs / 1000)} s`;
      throw new WaitTimeoutError(`timed out after ${after} waiting for ${opts.what}${state}`);
    }
    await sleep(opts.intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
