/**
 * Figures, their targets and the two outputs: the printed table and
 * bench/results.json. The names in STABLE_NAMES are a contract (CI and the
 * README read them); add new ones, never rename.
 */

export const STABLE_NAMES = [
  'storm.ratio',
  'storm.callsPerIncident',
  'storm.peakConcurrentTasks',
  'storm.seconds',
  'storm.lowerBoundSeconds',
  'detection.p50Ms',
  'detection.p99Ms',
  'idle.callsPerMinute',
  'memory.pollerRssMb',
  'memory.workerRssMb',
  'memory.simulatorRssMb',
  'client.wsdlLoadMs',
  'client.parse10kMs',
] as const;

export type Comparison = '<=' | '<';

export interface Target {
  op: Comparison;
  limit: number;
}

export interface Check {
  name: string;
  value: number | null;
  unit: string;
  target?: Target;
  /** undefined for figures without a target (reported, not judged). */
  pass?: boolean;
  /** The phase was not run (--only): shown as skipped, never judged. */
  skipped?: boolean;
  /** Why the target is shown but not judged in this run (e.g. a storm smaller than the target's size). */
  unjudged?: string;
}

/** PASS when the value is finite and meets the target; a missing value FAILs. */
export function judge(value: number | null | undefined, target: Target): boolean {
  if (value === null || value === undefined || !Number.isFinite(value)) return false;
  return target.op === '<=' ? value <= target.limit : value < target.limit;
}

export function makeCheck(name: string, value: number | null | undefined, unit: string, target?: Target, skipped = false, unjudged?: string): Check {
  const v = value === undefined || value === null || !Number.isFinite(value) ? null : value;
  const check: Check = { name, value: v, unit };
  if (skipped) return { ...check, skipped: true };
  if (target) {
    check.target = target;
    if (unjudged !== undefined) check.unjudged = unjudged;
    else check.pass = judge(v, target);
  }
  return check;
}

/** A result word for the table and results.json: PASS, FAIL, skipped, not judged, or '' (no target). */
export function resultWord(c: Check): string {
  if (c.skipped) return 'skipped';
  if (c.unjudged !== undefined) return 'not judged';
  return c.pass === undefined ? '' : c.pass ? 'PASS' : 'FAIL';
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function formatTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  const op = t.op === '<=' ? '<=' : '<';
  return `${op} ${formatNumber(t.limit)}${unit ? ' ' + unit : ''}`;
}

/** A fixed-width text table: figure, value, target, PASS/FAIL. */
export function formatTable(checks: readonly Check[]): string {
  const rows = checks.map((c) => [
    c.name,
    c.value === null ? (c.skipped ? '-' : 'n/a') : `${formatNumber(c.value)}${c.unit ? ' ' + c.unit : ''}`,
    formatTarget(c.target, c.unit),
    resultWord(c),
  ]);
  const header = ['figure', 'value', 'target', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Reads a dotted name ("storm.ratio") out of a results object. */
export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Every stable name that is missing or not a finite number; [] when the results are complete. */
export function missingFigures(results: unknown): string[] {
  return STABLE_NAMES.filter((n) => {
    const v = getPath(results, n);
    return typeof v !== 'number' || !Number.isFinite(v);
  });
}
