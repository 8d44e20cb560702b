import { describe, expect, it } from 'vitest';
import { percentile, perMinute, ratio, round, slotUsage, stormLowerBoundMs } from '../../bench/lib/stats.ts';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose

  it('gives the p-th smallest of 100 samples', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 1)).toBe(1);
  });

  it('rounds the rank up on small sets', () => {
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([5, 1000], 99)).toBe(1000);
  });

  it('does not reorder the caller\'s array', () => {
    const s = [3, 1, 2];
    percentile(s, 50);
    expect(s).toEqual([3, 1, 2]);
  });

  it('rejects empty sets, bad p and non-finite samples', () => {
    expect(() => percentile([], 50)).toThrow(/empty/);
    expect(() => percentile([1], 0)).toThrow(/\(0, 100\]/);
    expect(() => percentile([1], 101)).toThrow(/\(0, 100\]/);
    expect(() => percentile([1, Number.NaN], 50)).toThrow(/finite/);
  });
});

describe('stormLowerBoundMs', () => {
  it('is ceil(N / C) waves of one task', () => {
    expect(stormLowerBoundMs(1000, 16, 200)).toBe(63 * 200);
    expect(stormLowerBoundMs(16, 16, 200)).toBe(200);
    expect(stormLowerBoundMs(17, 16, 200)).toBe(400);
    expect(stormLowerBoundMs(100, 16, 200)).toBe(1400);
    expect(stormLowerBoundMs(1, 1, 50)).toBe(50);
  });

  it('rejects sizes that make no sense', () => {
    expect(() => stormLowerBoundMs(0, 16, 200)).toThrow(/VM count/);
    expect(() => stormLowerBoundMs(10, 0, 200)).toThrow(/concurrency/);
    expect(() => stormLowerBoundMs(10, 2.5, 200)).toThrow(/concurrency/);
    expect(() => stormLowerBoundMs(10, 16, 0)).toThrow(/duration/);
  });
});

describe('ratio, perMinute, round', () => {
  it('divides, and is NaN without a usable bound', () => {
    expect(ratio(15_120, 12_600)).toBeCloseTo(1.2, 10);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 10)).toBeNaN();
  });

  it('scales a count to a minute', () => {
    expect(perMinute(4, 120_000)).toBe(2);
    expect(perMinute(1, 15_000)).toBe(4);
    expect(() => perMinute(1, 0)).toThrow(/positive/);
  });

  it('rounds finite values and leaves the rest', () => {
    expect(round(1.23456)).toBe(1.235);
    expect(round(1.23456, 1)).toBe(1.2);
    expect(round(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('slotUsage', () => {
  it('is zero idle when every slot runs back to back', () => {
    // 2 slots, 4 tasks of 100 ms, started 50 ms after t0, no gaps.
    const runs = [0, 0, 100, 100].map((s) => ({ startTime: 1050 + s, completeTime: 1150 + s }));
    expect(slotUsage(runs, 1000, 2)).toEqual({ tasks: 4, firstStartMs: 50, idleMsPerTask: 0 });
  });

  it('does not count the slots a last, partial wave cannot fill', () => {
    // 4 slots, 6 tasks of 100 ms back to back: the second wave has 2 tasks and 2 empty slots.
    const runs = [0, 0, 0, 0, 100, 100].map((s) => ({ startTime: 1000 + s, completeTime: 1100 + s }));
    expect(slotUsage(runs, 1000, 4).idleMsPerTask).toBe(0);
    // The same with a 30 ms gap before the second wave: 4 slots x 30 ms over 6 tasks.
    const late = [0, 0, 0, 0, 130, 130].map((s) => ({ startTime: 1000 + s, completeTime: 1100 + s }));
    expect(slotUsage(late, 1000, 4).idleMsPerTask).toBeCloseTo(120 / 6, 6);
  });

  it('charges the gap between a task finishing and the next start to each task', () => {
    // 1 slot, 3 tasks of 100 ms with 20 ms between them: 40 ms idle over 3 tasks.
    const runs = [0, 120, 240].map((s) => ({ startTime: 2000 + s, completeTime: 2100 + s }));
    const u = slotUsage(runs, 2000, 1);
    expect(u.firstStartMs).toBe(0);
    expect(u.idleMsPerTask).toBeCloseTo(40 / 3, 6);
  });

  it('ignores tasks started before t0 or not finished, and rejects nonsense', () => {
    const runs = [{ startTime: 900, completeTime: 1000 }, { startTime: 1100 }, { startTime: 1200, completeTime: 1300 }];
    expect(slotUsage(runs, 1000, 1)).toEqual({ tasks: 1, firstStartMs: 200, idleMsPerTask: 0 });
    expect(slotUsage([], 0, 4).tasks).toBe(0);
    expect(() => slotUsage(runs, 0, 0)).toThrow(/concurrency/);
    expect(() => slotUsage([{ startTime: 10, completeTime: 5 }], 0, 1)).toThrow(/before it started/);
  });
});
