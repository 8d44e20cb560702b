import { describe, expect, it } from 'vitest';
import { BatchLoader } from '../../src/remediation/batch-loader.ts';

/** A loader whose calls are recorded with the time they were made (ms after `t0`). */
function recorder(windowMs: number, firstWindowMs?: number) {
  const t0 = Date.now();
  const calls: { at: number; keys: string[] }[] = [];
  const loader = new BatchLoader<string, string>(
    async (keys) => {
      calls.push({ at: Date.now() - t0, keys });
      await new Promise((r) => setTimeout(r, 20));
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    },
    (k) => k,
    { windowMs, ...(firstWindowMs !== undefined ? { firstWindowMs } : {}), maxBatch: 3, missing: () => 'missing' },
  );
  return { loader, calls };
}

describe('BatchLoader', () => {
  it('batches loads made within the window into one call, at most maxBatch keys each', async () => {
    const { loader, calls } = recorder(30);
    const values = await Promise.all(['a', 'b', 'a', 'c', 'd'].map((k) => loader.get(k)));
    expect(values).toEqual(['A', 'B', 'A', 'C', 'D']);
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('after a quiet spell the first batch waits only firstWindowMs; the next ones the whole window', async () => {
    const { loader, calls } = recorder(200, 5);
    const first = loader.get('a');
    await new Promise((r) => setTimeout(r, 10)); // the first call is in flight now
    const second = loader.get('b');
    await Promise.all([first, second]);
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b']]);
    expect(calls[0]!.at).toBeLessThan(100);
    // 'b' came while 'a' was in flight: it waits a whole window after that call.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(195);
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
