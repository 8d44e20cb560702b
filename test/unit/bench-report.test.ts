import { describe, expect, it } from 'vitest';
import { formatTable, getPath, judge, makeCheck, missingFigures, resultWord, STABLE_NAMES } from '../../bench/lib/report.ts';
import { stormRatioUnjudged } from '../../bench/lib/results.ts';
import { parseBenchArgs, UsageError } from '../../bench/lib/args.ts';

describe('judge and makeCheck', () => {
  it('passes on the limit for <= and fails on it for <', () => {
    expect(judge(1.2, { op: '<=', limit: 1.2 })).toBe(true);
    expect(judge(1.21, { op: '<=', limit: 1.2 })).toBe(false);
    expect(judge(1000, { op: '<', limit: 1000 })).toBe(false);
    expect(judge(999, { op: '<', limit: 1000 })).toBe(true);
  });

  it('fails a missing or non-finite value', () => {
    expect(judge(null, { op: '<=', limit: 3 })).toBe(false);
    expect(judge(Number.NaN, { op: '<=', limit: 3 })).toBe(false);
    expect(makeCheck('x', Number.NaN, 'ms', { op: '<', limit: 1 })).toEqual({ name: 'x', value: null, unit: 'ms', target: { op: '<', limit: 1 }, pass: false });
  });

  it('leaves figures without a target unjudged', () => {
    expect(makeCheck('memory.pollerRssMb', 80, 'MiB').pass).toBeUndefined();
  });

  it('shows a target it must not judge in this run as "not judged", with the reason', () => {
    const c = makeCheck('storm.ratio', 1.31, '', { op: '<=', limit: 1.2 }, false, 'too small a storm');
    expect(c.pass).toBeUndefined();
    expect(c.target).toEqual({ op: '<=', limit: 1.2 });
    expect(resultWord(c)).toBe('not judged');
    expect(formatTable([c]).split('\n')[2]).toMatch(/^storm\.ratio\s+1\.31\s+<= 1\.20?\s+not judged$/);
  });

  it('judges the storm ratio from 1,000 VMs on (the size its target is set for)', () => {
    expect(stormRatioUnjudged(1000)).toBeUndefined();
    expect(stormRatioUnjudged(5000)).toBeUndefined();
    expect(stormRatioUnjudged(100)).toMatch(/1000 VMs or more; this one had 100/);
  });
});

describe('formatTable', () => {
  it('prints each figure beside its target with PASS or FAIL', () => {
    const text = formatTable([
      makeCheck('storm.ratio', 1.05, '', { op: '<=', limit: 1.2 }),
      makeCheck('detection.p99Ms', 1500, 'ms', { op: '<', limit: 1000 }),
      makeCheck('memory.pollerRssMb', null, 'MiB'),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^figure\s+value\s+target\s+result$/);
    expect(lines[2]).toMatch(/^storm\.ratio\s+1\.05\s+<= 1\.20?\s+PASS$/);
    expect(lines[3]).toMatch(/^detection\.p99Ms\s+1500 ms\s+< 1000 ms\s+FAIL$/);
    expect(lines[4]).toMatch(/^memory\.pollerRssMb\s+n\/a$/);
  });
});

describe('missingFigures', () => {
  it('lists every stable name that is absent or not finite', () => {
    const full: Record<string, Record<string, number>> = {};
    for (const n of STABLE_NAMES) {
      const [a, b] = n.split('.') as [string, string];
      (full[a] ??= {})[b] = 1;
    }
    expect(missingFigures(full)).toEqual([]);
    (full.storm as Record<string, number>).ratio = Number.NaN;
    delete (full.client as Record<string, number>).parse10kMs;
    expect(missingFigures(full)).toEqual(['storm.ratio', 'client.parse10kMs']);
    expect(getPath(full, 'memory.workerRssMb')).toBe(1);
    expect(missingFigures(null)).toHaveLength(STABLE_NAMES.length);
  });
});

describe('parseBenchArgs', () => {
  it('uses the full sizes by default and the small ones with --quick', () => {
    const full = parseBenchArgs([], {});
    expect(full).toMatchObject({ stormVms: 1000, inventoryVms: 10_000, locks: 100, idleSeconds: 120, latencyMs: 5, unlockTaskMs: 200, taskConcurrency: 16 });
    const quick = parseBenchArgs(['--quick', '--vms', '50'], {});
    expect(quick).toMatchObject({ quick: true, stormVms: 50, inventoryVms: 1000, locks: 10, idleSeconds: 15 });
  });

  it('names the bad flag', () => {
    expect(() => parseBenchArgs(['--vms', 'ten'], {})).toThrow(/--vms must be a whole number/);
    expect(() => parseBenchArgs(['--only', 'storm,bogus'], {})).toThrow(/unknown phase "bogus"/);
    expect(() => parseBenchArgs(['--nope'], {})).toThrow(UsageError);
    expect(() => parseBenchArgs(['--locks', '20', '--inventory', '10'], {})).toThrow(/--locks/);
  });

  it('returns undefined for --help', () => {
    expect(parseBenchArgs(['-h'], {})).toBeUndefined();
  });
});
