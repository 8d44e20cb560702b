import { describe, expect, it } from 'vitest';
import { clockTicksPerSecond, cpuSeconds, parseProcStat, parseStatusKb, peakRssMb } from '../../bench/lib/procfs.ts';

// A real /proc/<pid>/stat line; the command name has a space and a ")" in it.
const STAT =
  '4242 (node (bench) x) S 4200 4242 4200 34816 4242 4194304 18734 0 0 0 1234 567 3 4 20 0 11 0 8123456 1166585856 25000 18446744073709551615 1 1 0 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0';

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1234567 kB
VmHWM:\t  150016 kB
VmRSS:\t  120000 kB
Threads:\t11
`;

describe('parseProcStat', () => {
  it('reads utime and stime after the last ")"', () => {
    expect(parseProcStat(STAT)).toEqual({ utime: 1234, stime: 567 });
  });

  it('names the problem on text that is not a stat line', () => {
    expect(() => parseProcStat('garbage')).toThrow(/no "\)"/);
    expect(() => parseProcStat('1 (x) S 1 2')).toThrow(/utime/);
  });
});

describe('parseStatusKb', () => {
  it('reads a kB field by name', () => {
    expect(parseStatusKb(STATUS, 'VmHWM')).toBe(150016);
    expect(parseStatusKb(STATUS, 'VmRSS')).toBe(120000);
    expect(parseStatusKb(STATUS, 'VmSwap')).toBeUndefined();
  });
});

describe('on this machine\'s /proc', () => {
  it('reads the test process\'s own CPU time and peak RSS', () => {
    expect(clockTicksPerSecond()).toBeGreaterThan(0);
    const before = cpuSeconds(process.pid);
    let x = 0;
    for (let i = 0; i < 3e7; i++) x += i % 7;
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(before);
    const rss = peakRssMb(process.pid);
    expect(rss).toBeGreaterThan(10);
    expect(rss).toBeLessThan(100_000);
  });

  it('fails clearly for a process that does not exist', () => {
    expect(() => cpuSeconds(2 ** 22 + 1)).toThrow(/ENOENT/);
  });
});
