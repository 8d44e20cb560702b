/**
 * The detection phase's lock schedule: which VMs, and when. Seeded, so a run
 * can be repeated exactly (--seed).
 */

/** A small seeded PRNG (mulberry32), so a run's lock schedule can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponentially distributed gap with the given mean: locks at random moments. */
export function exponentialGap(rand: () => number, meanMs: number): number {
  return -Math.log(1 - rand()) * meanMs;
}

/** n distinct items chosen at random (partial Fisher-Yates). */
export function pickDistinct<T>(items: readonly T[], n: number, rand: () => number): T[] {
  const pool = [...items];
  const out: T[] = [];
  for (let i = 0; i < n && pool.length > 0; i++) {
    const j = Math.floor(rand() * pool.length);
    out.push(pool[j] as T);
    pool[j] = pool[pool.length - 1] as T;
    pool.pop();
  }
  return out;
}
