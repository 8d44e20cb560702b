import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * CPU time and peak memory of a process, read from Linux /proc. Parsing is
 * separate from reading so the parsers can be tested on fixed text.
 */

export interface CpuTicks {
  utime: number;
  stime: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may
 * itself contain spaces and ")", so fields are counted after the LAST ")".
 * utime and stime are fields 14 and 15 (1-based), in clock ticks.
 */
export function parseProcStat(text: string): CpuTicks {
  const end = text.lastIndexOf(')');
  if (end < 0) throw new Error('unexpected /proc stat format: no ")" after the command name');
  const rest = text.slice(end + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc stat format: utime/stime are not numbers');
  return { utime, stime };
}

/** Parses one "Name:   123 kB" line of /proc/<pid>/status; kB, or undefined when absent. */
export function parseStatusKb(text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

let ticksPerSecond: number | undefined;
/** sysconf(_SC_CLK_TCK), almost always 100 on Linux. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const { utime, stime } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (utime + stime) / clockTicksPerSecond();
}

/** Peak resident set size (VmHWM) in MiB; read it before the process exits. */
export function peakRssMb(pid: number): number {
  const kb = parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return kb / 1024;
}
