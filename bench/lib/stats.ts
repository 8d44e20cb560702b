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

/** A task's run as the simulator reports it (epoch ms). */
export interface TaskRun {
  startTime?: number;
  completeTime?: number;
}

/**
 * Where the storm's task slots went: how long after t0 the first task started,
 * and the slot time left idle per task, i.e.
 * (C x (last completion - first start) - sum of task run times - the last
 * wave's empty slots) / tasks, where the last wave's empty slots are
 * ((C - N mod C) mod C) x the mean run time (N tasks cannot fill it). What is
 * left is the per-task overhead (noticing a finished task, handing the slot
 * over, the next start call), plus the first wave's ramp-up; 0 when the slots
 * never wait.
 */
export function slotUsage(runs: readonly TaskRun[], t0: number, concurrency: number): { tasks: number; firstStartMs: number; idleMsPerTask: number } {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`task concurrency must be a positive integer, got ${concurrency}`);
  const done = runs.filter((r): r is Required<TaskRun> => r.startTime !== undefined && r.completeTime !== undefined && r.startTime >= t0);
  if (done.length === 0) return { tasks: 0, firstStartMs: Number.NaN, idleMsPerTask: Number.NaN };
  let first = Infinity;
  let last = -Infinity;
  let busy = 0;
  for (const r of done) {
    if (r.completeTime < r.startTime) throw new RangeError(`a task completed (${r.completeTime}) before it started (${r.startTime})`);
    first = Math.min(first, r.startTime);
    last = Math.max(last, r.completeTime);
    busy += r.completeTime - r.startTime;
  }
  const emptyInLastWave = ((concurrency - (done.length % concurrency)) % concurrency) * (busy / done.length);
  return { tasks: done.length, firstStartMs: first - t0, idleMsPerTask: Math.max(0, concurrency * (last - first) - busy - emptyInLastWave) / done.length };
}
