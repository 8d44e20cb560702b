/**
 * The arithmetic of the benchmark: percentiles, the storm's lower bound and
 * ratios. Pure functions so they can be unit-tested without a run.
 */

/**
 * Nearest-rank percentile: the smallest sample with at least p % of the samples
 * at or below it. p50 of 100 samples is the 50th smallest, p99 the 99th.
 * Throws on an empty sample set or a p outside (0, 100].
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('percentile of an empty sample set');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile p must be in (0, 100], got ${p}`);
  if (samples.some((s) => !Number.isFinite(s))) throw new RangeError('percentile samples must be finite numbers');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)] as number;
}

/**
 * The least time N unlocks can take when at most C tasks run at once and each
 * takes taskMs: ceil(N / C) waves of one task duration. Per-call latency and
 * detection are deliberately left out, so the ratio shows vmlock's overhead.
 */
export function stormLowerBoundMs(vms: number, concurrency: number, taskMs: number): number {
  if (!Number.isInteger(vms) || vms < 1) throw new RangeError(`storm VM count must be a positive integer, got ${vms}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`task concurrency must be a positive integer, got ${concurrency}`);
  if (!(taskMs > 0)) throw new RangeError(`task duration must be positive, got ${taskMs}`);
  return Math.ceil(vms / concurrency) * taskMs;
}

/** measured / bound; NaN when either is missing or the bound is not positive. */
export function ratio(measured: number, bound: number): number {
  if (!Number.isFinite(measured) || !Number.isFinite(bound) || bound <= 0) return Number.NaN;
  return measured / bound;
}

/** Events per minute over a window of windowMs. */
export function perMinute(count: number, windowMs: number): number {
  if (!(windowMs > 0)) throw new RangeError(`window must be positive, got ${windowMs}`);
  return (count * 60_000) / windowMs;
}

/** Rounds for display and results.json (keeps 3 significant decimals, not noise). */
export function round(value: number, decimals = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
