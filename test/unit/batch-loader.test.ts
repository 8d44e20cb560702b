import { describe, expect, it } from 'vitest';
import { BatchLoader } from '../../src/remediation/batch-loader.ts';

/** A loader whose calls are recorded with the time they were made (ms after `t0`). */
function recorder(windowMs: number, firstWindowMs?: number, flightMs = 20) {
  const t0 = Date.now();
  const calls: { at: number; keys: string[] }[] = [];
  const loader = new BatchLoader<string, string>(
    async (keys) => {
      calls.push({ at: Date.now() - t0, keys });
      await new Promise((r) => setTimeout(r, flightMs));
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    },
    (k) => k,
    { windowMs, ...(firstWindowMs !== undefined ? { firstWindowMs } : {}), maxBatch: 3, missing: () => 'missing' },
  );
  return { loader, calls, t0 };
}

describe('BatchLoader', () => {
  it('batches loads made within the window into one call, at most maxBatch keys each', async () => {
    const { loader, calls } = recorder(30);
    const values = await Promise.all(['a', 'b', 'a', 'c', 'd'].map((k) => loader.get(k)));
    expect(values).toEqual(['A', 'B', 'A', 'C', 'D']);
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('after a quiet spell batches wait only firstWindowMs for one window, then the whole window', async () => {
    // window 300 ms, first window 5 ms, each call 100 ms.
    const { loader, calls, t0 } = recorder(300, 5, 100);
    const until = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - Date.now())));
    const first = loader.get('a'); // out at about 5 ms
    await until(30);
    const second = loader.get('b'); // came while 'a' was in flight, within the quick window
    await Promise.all([first, second]);
    // After the quick window (300 ms) but less than a window after the last call:
    await until(340);
    await loader.get('c');
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b'], ['c']]);
    const [a, b, c] = calls.map((x) => x.at) as [number, number, number];
    expect(a).toBeLessThan(100); // not a whole window late
    expect(b - a).toBeLessThan(200); // soon after 'a' returned, not a window later
    expect(c).toBeGreaterThanOrEqual(630); // a whole window after it came
  });

  it('a failed call rejects every load of its batch, and the next batch still runs', async () => {
    let fail = true;
    const loader = new BatchLoader<string, string>(
      async (keys) => {
        if (fail) throw new Error('vCenter said no');
        return new Map(keys.map((k) => [k, k]));
      },
      (k) => k,
      { windowMs: 5, maxBatch: 10, missing: () => 'missing' },
    );
    const results = await Promise.allSettled([loader.get('a'), loader.get('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await loader.get('c')).toBe('c');
  });
});
