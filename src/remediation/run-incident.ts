import type { PolicyConfig } from '../config/schema.ts';
import type { Cause } from '../diagnosis/causes.ts';
import { diagnose, isLocked } from '../diagnosis/diagnose.ts';
import type { VmFacts } from '../diagnosis/facts.ts';
import { errorMessage, VmlockError } from '../errors.ts';
import { isClosed, type ActionRecord, type ClosedState, type Incident, type IncidentJob, type Transition } from '../incidents/model.ts';
import { IncidentNotFoundError, type IncidentStore } from '../incidents/store.ts';
import type { Logger } from '../log.ts';
import { incidentsClosed, timeToResolve } from '../ops/metrics.ts';
import type { VsphereApi } from '../vsphere/api.ts';
import { MethodNotFound, NotSupported } from '../vsphere/faults.ts';
import { ActionFailedError, executeAction, LostVmLockError } from './execute.ts';
import type { FactGatherer } from './gather.ts';
import { humanActionFor } from './human-action.ts';
import { planRemediation, type Plan, type PlannedAction } from './plan.ts';
import { initialProgress, meta, setMeta, type Progress } from './progress.ts';
import type { TaskSemaphore } from './task-semaphore.ts';
import type { VmLockManager } from './vm-lock.ts';

/** Emits one incident transition (the worker wires it to the notification outbox). */
export type Notify = (n: { transition: Transition; incident: Incident; summary: string; discriminator?: string }) => Promise<void>;

export interface RunnerDeps {
  api: VsphereApi;
  gatherer: FactGatherer;
  store: IncidentStore;
  policy: PolicyConfig;
  semaphore: TaskSemaphore;
  vmLocks: VmLockManager;
  notify: Notify;
  logger: Logger;
  /** First back-off of KMS waits (config.worker.backoff); doubles, with jitter. */
  backoffMs: number;
  taskTimeoutMs?: number;
  /** See ExecuteDeps.inflightGraceMs (default 90 s, the default SOAP call timeout). */
  inflightGraceMs?: number;
  verify?: { attempts: number; delayMs: number };
}

export interface RunInput {
  job: IncidentJob;
  /** Persists job.progress (BullMQ job.updateData in the worker). */
  save(progress: Progress): Promise<void>;
}

export type RunResult =
  | { kind: 'closed'; state: ClosedState }
  /** Park the job and run it again later: KMS wait, approval, VM locked by another worker. */
  | { kind: 'delay'; ms: number; reason: 'kms' | 'approval' | 'vm-busy' };

/** How long an incident waiting for approval sleeps before it looks again (approval promotes it at once). */
export const APPROVAL_RECHECK_MS = 24 * 3600_000;

/**
 * Decisions (also in the report):
 *  - dry-run: diagnosis and plan run and are recorded (actions with dryRun: true,
 *    state planned); the incident ends `escalated` with humanAction "dry-run: ...
 *    apply the plan"; nothing changes in vCenter. A plan with no action resolves.
 *  - policy.powerOn "previous": on when the VM was poweredOn at the first diagnosis
 *    (progress meta:initialPower) or a failed power-on was a signal (the job's
 *    signal, or a VmFailedToPowerOnEvent of the VM in the recent events).
 *  - vm-gone, not-encrypted, stale-alarm: resolved (stale alarms acknowledged per policy).
 *  - kms-unreachable: waiting-kms, re-diagnosed on each wake with fresh key statuses,
 *    escalated after policy.kmsWaitTimeout.
 *
 * Drives one incident from its current step to an outcome or a wait:
 * diagnose → plan → (approval) → act → verify. Every step first re-reads what
 * it depends on, so running it again after a crash never repeats a finished
 * side effect. Transient faults are thrown for the caller to retry.
 */
export async function runIncident(deps: RunnerDeps, input: RunInput): Promise<RunResult> {
  const { job } = input;
  const log = deps.logger.child({ incidentId: job.incidentId, vm: job.vm.moref });
  const inc = await deps.store.get(job.incidentId, { timeline: false });
  if (!inc) throw new VmlockError('VMLOCK_ERR_NOT_FOUND', `incident ${job.incidentId} is not in Redis`);
  if (isClosed(inc.state)) return { kind: 'closed', state: inc.state as ClosedState };

  const lock = await deps.vmLocks.tryAcquire(job.vcenter, job.vm.moref);
  if (!lock) return { kind: 'delay', ms: 2_000 + Math.floor(Math.random() * 1_000), reason: 'vm-busy' };
  const progress: Progress = structuredClone(job.progress ?? initialProgress());
  const save = async (): Promise<void> => {
    if (!lock.held()) throw new LostVmLockError(job.vm.moref);
    await input.save(progress);
  };
  const ctx = new IncidentContext(deps, job, log);
  try {
    if (progress.step === 'new') {
      await ctx.emit('opened', `incident opened for VM ${job.vm.name} (${job.signal.kind}: ${job.signal.detail})`);
      progress.step = 'diagnose';
      await save();
    }
    if (progress.step === 'diagnose') {
      const r = await diagnoseAndPlan(ctx, progress, save);
      if (r) return r;
    }
    if (progress.step === 'approval') {
      const cur = await requireIncident(deps.store, job.incidentId);
      if (!cur.approvedBy) return { kind: 'delay', ms: APPROVAL_RECHECK_MS, reason: 'approval' };
      progress.step = 'act';
      await save();
    }
    if (progress.step === 'act') {
      await deps.store.setState(job.incidentId, 'remediating', 'remediating');
      const r = await act(ctx, progress, save, () => lock.held());
      if (r) return r;
      progress.step = 'verify';
      await save();
    }
    if (progress.step === 'verify') {
      await deps.store.setState(job.incidentId, 'verifying', 'verifying');
      return await verify(ctx, progress);
    }
    throw new VmlockError('VMLOCK_ERR_PAYLOAD', `incident job ${job.incidentId} has unknown progress step "${progress.step}"`);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** The incident without its timeline (no step here reads it; it grows with every note). */
async function requireIncident(store: IncidentStore, id: string): Promise<Incident> {
  const inc = await store.get(id, { timeline: false });
  if (!inc) throw new IncidentNotFoundError(id);
  return inc;
}

/** Per-run helpers: notifications, timeline, closing with metrics. */
class IncidentContext {
  constructor(
    readonly deps: RunnerDeps,
    readonly job: IncidentJob,
    readonly log: Logger,
  ) {}

  get id(): string {
    return this.job.incidentId;
  }

  async emit(transition: Transition, summary: string, discriminator?: string): Promise<void> {
    try {
      // Without the timeline: notifications carry the incident's state, causes and actions.
      const incident = await this.deps.store.get(this.id, { timeline: false });
      if (!incident) return;
      const n: Parameters<Notify>[0] = { transition, incident, summary };
      if (discriminator !== undefined) n.discriminator = discriminator;
      await this.deps.notify(n);
    } catch (err) {
      this.log.warn({ err: errorMessage(err), transition }, 'could not queue the notification');
    }
  }

  async note(type: string, message: string, data?: unknown): Promise<void> {
    await this.deps.store.appendTimeline(this.id, { type, message, data });
  }

  async close(state: ClosedState, message: string, humanAction?: string): Promise<RunResult> {
    const inc = await requireIncident(this.deps.store, this.id);
    await this.deps.store.close(this.id, state, message, humanAction);
    incidentsClosed.inc({ vcenter: this.job.vcenter, outcome: state, cause: inc.causes[0]?.code ?? 'none' });
    const opened = Date.parse(inc.openedAt);
    if (Number.isFinite(opened)) timeToResolve.observe({ outcome: state }, Math.max(0, (Date.now() - opened) / 1000));
    this.log.info({ outcome: state, humanAction }, message);
    await this.emit(state, humanAction ? `${message}. Human action: ${humanAction}` : message);
    return { kind: 'closed', state };
  }
}

/** Facts without bulky parts, for the timeline. */
function factsForTimeline(f: VmFacts): unknown {
  const vm = f.snapshot;
  return {
    gatheredAt: f.gatheredAt,
    vm: vm && {
      name: vm.name,
      powerState: vm.powerState,
      connectionState: vm.connectionState,
      cryptoState: vm.cryptoState,
      keyId: vm.keyId,
      host: vm.host?.value,
      folder: vm.parent?.value,
      disks: vm.disks.map((d) => ({ key: d.key, fileName: d.fileName, keyId: d.keyId, parentKeyIds: d.parentKeyIds })),
      bootOrder: vm.bootOrder,
    },
    keyStatuses: f.keyStatuses.map((s) => ({ keyId: s.keyId, keyAvailable: s.keyAvailable, reason: s.reason })),
    ...(f.keyStatusUnavailable ? { keyStatusUnavailable: true } : {}),
    kmsActive: f.kmsActive,
    host: f.host && { name: f.host.name, cryptoState: f.host.cryptoState, connectionState: f.host.connectionState },
    canRegisterVm: f.canRegisterVm,
    events: f.events.map((e) => ({ eventTypeId: e.eventTypeId ?? e.type, createdTime: e.createdTime })),
  };
}

function toRecord(a: PlannedAction, dryRun: boolean): ActionRecord {
  const details: Record<string, unknown> = { id: a.id };
  if (a.deviceKey !== undefined) Object.assign(details, { deviceKey: a.deviceKey, fileName: a.fileName, key: a.key, fileKept: true });
  if (a.alarm) details.alarm = a.alarm;
  if (a.reloadFallback) details.reloadFallback = a.reloadFallback;
  const r: ActionRecord = { kind: a.kind, reason: a.reason, target: a.target, state: 'planned', details };
  if (dryRun) r.dryRun = true;
  return r;
}

function fromRecord(r: ActionRecord): PlannedAction {
  const d = r.details ?? {};
  const a: PlannedAction = { kind: r.kind as PlannedAction['kind'], reason: r.reason, target: r.target ?? '', id: String(d.id ?? r.kind) };
  if (typeof d.deviceKey === 'number') a.deviceKey = d.deviceKey;
  if (typeof d.fileName === 'string') a.fileName = d.fileName;
  if (typeof d.key === 'string') a.key = d.key;
  if (d.alarm) a.alarm = d.alarm as PlannedAction['alarm'];
  if (d.reloadFallback) a.reloadFallback = d.reloadFallback as PlannedAction['reloadFallback'];
  return a;
}

async function diagnoseAndPlan(ctx: IncidentContext, progress: Progress, save: () => Promise<void>): Promise<RunResult | undefined> {
  const { deps, job } = ctx;
  const policy = deps.policy;
  await deps.store.setState(job.incidentId, 'diagnosing', 'diagnosing');
  const facts = await deps.gatherer.gather(job.vm.moref, job.signal.kind, { fresh: meta(progress, 'kmsWaits') !== undefined });
  if (meta(progress, 'initialPower') === undefined) setMeta(progress, 'initialPower', facts.snapshot?.powerState ?? 'unknown');
  const diagnosis = diagnose(facts);
  const wasPoweredOn = meta(progress, 'initialPower') === 'poweredOn' || job.signal.kind === 'powerOnFailure' || facts.signalKind === 'powerOnFailure';
  const plan = planRemediation(diagnosis, facts, policy, { wasPoweredOn });
  const keyNote = facts.keyStatusUnavailable ? 'no key statuses: vCenter has no QueryCryptoKeyStatus' : `${facts.keyStatuses.length} key statuses`;
  await ctx.note('facts', `facts gathered (${keyNote}, ${facts.events.length} events)`, factsForTimeline(facts));
  await ctx.note('causes', diagnosis.causes.map((c) => `${c.code}: ${c.message}`).join('; ') || 'no cause', { causes: diagnosis.causes, advisories: diagnosis.advisories, bootDisk: diagnosis.bootDisk });
  await Promise.all([
    ctx.note('plan', plan.summary + (plan.dryRun ? ' (dry-run)' : ''), plan),
    deps.store.update(job.incidentId, { causes: diagnosis.causes as Incident['causes'], advisories: diagnosis.advisories, actions: plan.actions.map((a) => toRecord(a, plan.dryRun)) }),
  ]);
  await ctx.emit('diagnosed', `${job.vm.name}: ${diagnosis.causes.map((c) => c.code).join(', ')} → ${plan.summary}`);
  setMeta(progress, 'outcome', plan.outcome);
  setMeta(progress, 'wasLocked', String(diagnosis.locked));

  if (plan.outcome === 'escalate') {
    await save();
    return ctx.close('escalated', `escalated: ${diagnosis.causes.filter((c) => c.code !== 'keys-missing-on-host').map((c) => c.code).join(', ')}`, plan.humanAction);
  }
  if (plan.outcome === 'wait-kms') return waitForKms(ctx, progress, save, plan, diagnosis.causes);
  setMeta(progress, 'kmsWaitSince', undefined);
  if (plan.dryRun && plan.actions.length > 0) {
    await save();
    return ctx.close(
      'escalated',
      `dry-run: planned ${plan.actions.map((a) => a.id).join(', ')}; nothing changed`,
      `dry-run (policy.dryRun): review the planned actions on incident ${job.incidentId}, then run \`vmlock unlock ${job.vm.name}\` without --dry-run (or turn policy.dryRun off) to apply them`,
    );
  }
  if (plan.needsApproval.length) {
    const inc = await requireIncident(deps.store, job.incidentId);
    if (!inc.approvedBy) {
      progress.step = 'approval';
      await save();
      await deps.store.setState(job.incidentId, 'awaiting-approval', `awaiting approval of ${plan.needsApproval.join(', ')}`);
      await ctx.emit('awaiting-approval', `${job.vm.name}: ${plan.needsApproval.join(', ')} wait for \`vmlock approve ${job.incidentId}\``);
      return { kind: 'delay', ms: APPROVAL_RECHECK_MS, reason: 'approval' };
    }
  }
  progress.step = 'act';
  await save();
  return undefined;
}

async function waitForKms(ctx: IncidentContext, progress: Progress, save: () => Promise<void>, plan: Plan, causes: Cause[]): Promise<RunResult> {
  const { deps, job } = ctx;
  if (plan.dryRun) {
    await save();
    return ctx.close('escalated', 'dry-run: the key provider is unreachable; not waiting', plan.humanAction);
  }
  const now = Date.now();
  const since = Number(meta(progress, 'kmsWaitSince') ?? now);
  const waits = Number(meta(progress, 'kmsWaits') ?? 0);
  const elapsed = now - since;
  if (elapsed >= deps.policy.kmsWaitTimeout) {
    await save();
    return ctx.close('escalated', `key provider still unreachable after ${Math.round(elapsed / 1000)} s (policy.kmsWaitTimeout)`, plan.humanAction);
  }
  setMeta(progress, 'kmsWaitSince', String(since));
  setMeta(progress, 'kmsWaits', String(waits + 1));
  const base = deps.backoffMs * 2 ** Math.min(waits, 10);
  const ms = Math.max(100, Math.min(deps.policy.kmsWaitTimeout - elapsed, Math.round(base * (0.5 + Math.random() / 2))));
  await save();
  await deps.store.setState(job.incidentId, 'waiting-kms', `waiting for the key provider (${causes.map((c) => c.provider).join(', ')}); next look in ${ms} ms`);
  return { kind: 'delay', ms, reason: 'kms' };
}

async function act(ctx: IncidentContext, progress: Progress, save: () => Promise<void>, lockHeld: () => boolean): Promise<RunResult | undefined> {
  const { deps, job } = ctx;
  const inc = await requireIncident(deps.store, job.incidentId);
  const records = inc.actions;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const a = fromRecord(rec);
    if (progress.done.includes(a.id)) continue;
    const record = async (patch: Partial<ActionRecord>): Promise<void> => {
      Object.assign(rec, patch);
      await deps.store.recordAction(job.incidentId, i, rec);
    };
    if (rec.state !== 'started') {
      await record({ state: 'started', startedAt: new Date().toISOString() });
      await Promise.all([
        ctx.note('action', `${a.kind} on ${a.target}: started (${a.reason})`, { index: i, id: a.id }),
        ctx.emit('action-started', `${a.kind} on ${job.vm.name} (${a.target})`, `a${i}`),
      ]);
    }
    progress.step = 'act';
    await save();
    try {
      const r = await executeAction(
        {
          api: deps.api,
          gatherer: deps.gatherer,
          semaphore: deps.semaphore,
          policy: deps.policy,
          logger: ctx.log,
          save: async (p) => {
            Object.assign(progress, p);
            await save();
          },
          record,
          lockHeld,
          taskTimeoutMs: deps.taskTimeoutMs ?? 15 * 60_000,
          inflightGraceMs: deps.inflightGraceMs ?? 90_000,
          verify: deps.verify ?? { attempts: 10, delayMs: 500 },
        },
        job.vm.moref,
        a,
        progress,
      );
      progress.done.push(a.id);
      await save();
      await record({ state: r.state, endedAt: new Date().toISOString(), ...(r.task ? { task: r.task } : {}), ...(r.kind ? { kind: r.kind } : {}) });
      await Promise.all([
        ctx.note('action', `${a.kind} on ${a.target}: ${r.state} (${r.note})`, { index: i, id: a.id, task: r.task }),
        ctx.emit('action-succeeded', `${a.kind} on ${job.vm.name}: ${r.note}`, `a${i}`),
      ]);
    } catch (err) {
      if (!(err instanceof ActionFailedError)) throw err;
      await record({ state: 'failed', endedAt: new Date().toISOString(), error: err.message });
      await ctx.note('action', `${a.kind} on ${a.target}: failed (${err.message})`, { index: i, id: a.id });
      await ctx.emit('action-failed', `${a.kind} on ${job.vm.name} failed: ${err.message}`, `a${i}`);
      if (a.kind === 'acknowledgeAlarm') continue; // cosmetic: the VM is fixed anyway
      const noUnlockMethod = a.kind === 'cryptoUnlock' && (err.cause instanceof MethodNotFound || err.cause instanceof NotSupported);
      // Key status unknown (vCenter before 6.7 U2) and the re-push did not help: a key is missing in the KMS.
      const statusUnknown = noUnlockMethod ? undefined : inc.causes.find((c) => c.code === 'key-status-unavailable');
      const human = noUnlockMethod
        ? `vCenter ${job.vcenter} has no CryptoUnlock_Task (before 6.7): set policy.reloadFallback: true (reload from the VM's own path), or reload VM ${job.vm.name} from its configuration path in vSphere (vSphere admin), then run \`vmlock unlock ${job.vm.name}\``
        : statusUnknown
          ? `${humanActionFor(statusUnknown as Cause, job.vm.name, job.vcenter)} (${a.kind} failed: ${err.message})`
          : `Check VM ${job.vm.name} in vSphere Client (${a.kind} failed: ${err.message}), fix the cause, then run \`vmlock unlock ${job.vm.name}\``;
      return ctx.close('escalated', `${a.kind} failed: ${err.message}`, human);
    }
  }
  return undefined;
}

async function verify(ctx: IncidentContext, progress: Progress): Promise<RunResult> {
  const { deps, job } = ctx;
  const outcome = meta(progress, 'outcome');
  const inc = await requireIncident(deps.store, job.incidentId);
  // The last action's verification just read it; a resumed run reads afresh.
  const vm = await deps.gatherer.readVm(job.vm.moref, { maxAgeMs: 5_000 });
  const closeNote = inc.causes.map((c) => c.code).join(', ');
  if (outcome !== 'remediate') return ctx.close('resolved', `resolved: ${closeNote || 'nothing to fix'}`);
  const problems: string[] = [];
  if (!vm) problems.push('the VM no longer exists');
  else {
    if (isLocked(vm)) problems.push('the VM is still locked');
    for (const a of inc.actions) {
      const d = a.details ?? {};
      if (a.kind === 'detachDisk' && vm.disks.some((x) => x.key === d.deviceKey)) problems.push(`disk ${String(d.deviceKey)} is still attached`);
      if (a.kind === 'powerOn' && vm.powerState !== 'poweredOn') problems.push('the VM is not powered on');
    }
  }
  if (problems.length) {
    const c = inc.causes[0];
    return ctx.close('escalated', `verification failed: ${problems.join('; ')}`, c ? humanActionFor(c as Cause, job.vm.name, job.vcenter) : `Check VM ${job.vm.name}: ${problems.join('; ')}`);
  }
  return ctx.close('resolved', `resolved: ${closeNote}; ${inc.actions.filter((a) => a.state === 'succeeded').map((a) => a.kind).join(', ') || 'no change needed'}`);
}
