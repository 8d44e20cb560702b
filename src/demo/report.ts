import type { Incident } from '../incidents/model.ts';
import type { ExpectedVm, SimStats } from './scenario.ts';
import type { ConsumedNotification } from './notifications.ts';

/**
 * The demo's end report: per VM its causes, the actions taken, the outcome,
 * how long it took, and whether that is what the scenario expects; plus the
 * notifications consumed from RabbitMQ and the simulator's safety figures.
 */
export interface ActionSummary {
  kind: string;
  state: string;
  reason: string;
  target?: string;
  dryRun?: boolean;
}

export interface VmReport {
  vm: { moref: string; name: string };
  incidentId?: string;
  expected: { outcome: string; causes: string[]; actions?: string[] };
  /** resolved | escalated | failed, an open state when unfinished, or none (no incident). */
  outcome: string;
  causes: string[];
  actions: ActionSummary[];
  humanAction?: string;
  durationMs?: number;
  ok: boolean;
  problems: string[];
}

export interface NotificationSummary {
  exchange: string;
  consumed: number;
  byTransition: Record<string, number>;
  /** Messages that do not match schemas/notification.schema.json, with their problems. */
  invalid: { id: string; problems: string[] }[];
  /** Closed incidents whose resolved/escalated/failed message never arrived. */
  missingTerminal: string[];
  /** Messages of other vCenters seen on the shared exchange (not counted). */
  ignoredOtherVcenters: number;
}

export interface DemoReport {
  ok: boolean;
  scenario: string;
  vcenter: string;
  redisPrefix: string;
  startedAt: string;
  endedAt: string;
  elapsedMs: number;
  timedOut: boolean;
  /** Why the run failed beyond per-VM mismatches (timeout, a process died, ...). */
  failure?: string;
  summary: { vms: number; asExpected: number; mismatched: number; byOutcome: Record<string, number> };
  vms: VmReport[];
  /** Incidents on VMs the scenario does not list. */
  unexpectedIncidents: VmReport[];
  notifications: NotificationSummary;
  simulator: SimStats;
  logDir: string;
  configFile: string;
  /** False when --cleanup removed the run's keys from Redis. */
  redisKept: boolean;
}

const TERMINAL = new Set(['resolved', 'escalated', 'failed']);

/** The newest incident per VM moref (ids end in a per-VM sequence number). */
export function latestByVm(incidents: readonly Incident[]): Map<string, Incident> {
  const seq = (id: string) => Number(id.slice(id.lastIndexOf('.') + 1));
  const out = new Map<string, Incident>();
  for (const inc of incidents) {
    const prev = out.get(inc.vm.moref);
    if (!prev || seq(inc.id) > seq(prev.id)) out.set(inc.vm.moref, inc);
  }
  return out;
}

function summarizeActions(inc: Incident): ActionSummary[] {
  return inc.actions.map((a) => {
    const s: ActionSummary = { kind: a.kind, state: a.state, reason: a.reason };
    if (a.target !== undefined) s.target = a.target;
    if (a.dryRun) s.dryRun = true;
    return s;
  });
}

export function vmReport(expected: ExpectedVm, inc: Incident | undefined): VmReport {
  const row: VmReport = {
    vm: { moref: expected.moref, name: inc?.vm.name || expected.name },
    expected: { outcome: expected.outcome, causes: expected.causes },
    outcome: inc ? inc.state : 'none',
    causes: inc ? inc.causes.map((c) => c.code) : [],
    actions: inc ? summarizeActions(inc) : [],
    ok: true,
    problems: [],
  };
  if (expected.actions) row.expected.actions = expected.actions;
  if (inc) {
    row.incidentId = inc.id;
    if (inc.humanAction) row.humanAction = inc.humanAction;
    if (inc.closedAt) {
      const ms = Date.parse(inc.closedAt) - Date.parse(inc.openedAt);
      if (Number.isFinite(ms)) row.durationMs = Math.max(0, ms);
    }
  }
  if (row.outcome !== expected.outcome) row.problems.push(`outcome ${row.outcome}, expected ${expected.outcome}`);
  for (const code of expected.causes) {
    if (!row.causes.includes(code)) row.problems.push(`cause ${code} not found (diagnosed: ${row.causes.join(', ') || 'nothing'})`);
  }
  if (expected.actions) {
    // Every action the scenario names must have succeeded (the worker's own tests check that no others ran).
    const done = row.actions.filter((a) => a.state === 'succeeded').map((a) => a.kind);
    const missing = expected.actions.filter((k) => !done.includes(k));
    if (missing.length) row.problems.push(`actions done [${done.join(', ')}], expected [${expected.actions.join(', ')}]`);
  }
  row.ok = row.problems.length === 0;
  return row;
}

export interface BuildReportInput {
  scenario: string;
  vcenter: string;
  redisPrefix: string;
  exchange: string;
  startedAt: Date;
  endedAt: Date;
  timedOut: boolean;
  failure?: string;
  expected: readonly ExpectedVm[];
  incidents: readonly Incident[];
  notifications: readonly ConsumedNotification[];
  ignoredNotifications: number;
  simulator: SimStats;
  logDir: string;
  configFile: string;
  redisKept?: boolean;
}

export function buildReport(input: BuildReportInput): DemoReport {
  const latest = latestByVm(input.incidents);
  const listed = new Set(input.expected.map((e) => e.moref));
  const vms = input.expected.map((e) => vmReport(e, latest.get(e.moref)));
  const unexpectedIncidents = [...latest.values()]
    .filter((inc) => !listed.has(inc.vm.moref))
    .map((inc) => vmReport({ moref: inc.vm.moref, name: inc.vm.name, outcome: 'none', causes: [] }, inc));

  const byTransition: Record<string, number> = {};
  for (const n of input.notifications) byTransition[n.transition] = (byTransition[n.transition] ?? 0) + 1;
  const terminalSeen = new Set(input.notifications.filter((n) => TERMINAL.has(n.transition)).map((n) => n.incidentId));
  const missingTerminal = input.incidents.filter((i) => TERMINAL.has(i.state) && !terminalSeen.has(i.id)).map((i) => i.id);
  const invalid = input.notifications.filter((n) => n.problems.length).map((n) => ({ id: n.id, problems: n.problems }));

  const byOutcome: Record<string, number> = {};
  for (const v of vms) byOutcome[v.outcome] = (byOutcome[v.outcome] ?? 0) + 1;
  const asExpected = vms.filter((v) => v.ok).length;

  let failure = input.failure;
  if (!failure && input.simulator.destroyedFiles.length) failure = `disk files were destroyed: ${input.simulator.destroyedFiles.join(', ')}`;
  const ok =
    !input.timedOut &&
    !failure &&
    asExpected === vms.length &&
    unexpectedIncidents.length === 0 &&
    invalid.length === 0 &&
    missingTerminal.length === 0;

  const report: DemoReport = {
    ok,
    scenario: input.scenario,
    vcenter: input.vcenter,
    redisPrefix: input.redisPrefix,
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
    elapsedMs: input.endedAt.getTime() - input.startedAt.getTime(),
    timedOut: input.timedOut,
    summary: { vms: vms.length, asExpected, mismatched: vms.length - asExpected, byOutcome },
    vms,
    unexpectedIncidents,
    notifications: {
      exchange: input.exchange,
      consumed: input.notifications.length,
      byTransition,
      invalid,
      missingTerminal,
      ignoredOtherVcenters: input.ignoredNotifications,
    },
    simulator: input.simulator,
    logDir: input.logDir,
    configFile: input.configFile,
    redisKept: input.redisKept ?? true,
  };
  if (failure) report.failure = failure;
  return report;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width - 1) + ' ' : text + ' '.repeat(width - text.length);
}

function actionsText(actions: readonly ActionSummary[]): string {
  if (!actions.length) return '-';
  return actions.map((a) => `${a.kind}${a.dryRun ? '(dry-run)' : ''}:${a.state}`).join(', ');
}

/** Rows shown in full up to this many VMs; beyond it only mismatches are listed. */
const FULL_TABLE_LIMIT = 40;

export function formatReport(r: DemoReport): string {
  const out: string[] = [];
  out.push(`vmlock demo: scenario "${r.scenario}" on simulated vCenter ${r.vcenter}, ${seconds(r.elapsedMs)}`);
  out.push('');
  const rows = [...r.vms, ...r.unexpectedIncidents];
  const shown = rows.length <= FULL_TABLE_LIMIT ? rows : rows.filter((v) => !v.ok).slice(0, FULL_TABLE_LIMIT);
  if (shown.length) {
    const cells = shown.map((v) => [`${v.vm.name} (${v.vm.moref})`, v.causes.join(', ') || '-', actionsText(v.actions), v.outcome, seconds(v.durationMs)]);
    const header = ['VM', 'causes', 'actions', 'outcome', 'time'];
    const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)) + 2));
    out.push(header.map((h, i) => pad(h, widths[i] ?? 10)).join('') + 'check');
    shown.forEach((v, n) => {
      out.push((cells[n] ?? []).map((c, i) => pad(c, widths[i] ?? 10)).join('') + (v.ok ? 'ok' : `MISMATCH: ${v.problems.join('; ')}`));
      if (v.humanAction && v.outcome === 'escalated') out.push(`    human action: ${v.humanAction}`);
    });
    if (shown.length < rows.length) out.push(`(${rows.length - shown.length} more VMs as expected; --json lists them all)`);
    out.push('');
  }
  const outcomes = Object.entries(r.summary.byOutcome).map(([k, n]) => `${k} ${n}`).join(', ');
  out.push(`VMs: ${r.summary.vms} (${outcomes}); ${r.summary.asExpected} as the scenario expects, ${r.summary.mismatched} not`);
  if (r.unexpectedIncidents.length) out.push(`incidents on VMs the scenario does not list: ${r.unexpectedIncidents.map((v) => v.incidentId).join(', ')}`);
  const n = r.notifications;
  const trans = Object.entries(n.byTransition).map(([k, c]) => `${k} ${c}`).join(', ');
  out.push(`notifications consumed from RabbitMQ exchange ${n.exchange}: ${n.consumed}${trans ? ` (${trans})` : ''}`);
  if (n.invalid.length) out.push(`  ${n.invalid.length} do NOT match schemas/notification.schema.json, e.g. ${n.invalid[0]?.id}: ${n.invalid[0]?.problems.join('; ')}`);
  else if (n.consumed) out.push('  all match schemas/notification.schema.json');
  if (n.missingTerminal.length) out.push(`  no final notification for: ${n.missingTerminal.join(', ')}`);
  const sim = r.simulator;
  out.push(
    `simulator: ${sim.callsTotal ?? '?'} SOAP calls, peak ${sim.peakConcurrentTasks ?? '?'} concurrent tasks, ` +
      `disks detached (files kept): ${sim.detachedFiles.length ? sim.detachedFiles.join(', ') : 'none'}, ` +
      `disk files destroyed: ${sim.destroyedFiles.length ? sim.destroyedFiles.join(', ') : 'none'}`,
  );
  out.push(`logs: ${r.logDir}`);
  out.push(r.redisKept ? `config: ${r.configFile} (e.g. vmlock incidents --config ${r.configFile})` : `config: ${r.configFile} (the run's Redis keys were removed)`);
  if (r.timedOut) out.push('TIMED OUT before every incident ended.');
  if (r.failure) out.push(`FAILED: ${r.failure}`);
  out.push(r.ok ? `RESULT: every VM ended as the scenario expects.` : `RESULT: FAILED (${r.summary.mismatched} VM(s) not as expected${r.timedOut ? ', timed out' : ''}).`);
  return out.join('\n');
}
