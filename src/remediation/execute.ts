import type { PolicyConfig } from '../config/schema.ts';
import { isLocked } from '../diagnosis/diagnose.ts';
import type { ActionRecord } from '../incidents/model.ts';
import type { Logger } from '../log.ts';
import type { VsphereApi } from '../vsphere/api.ts';
import { InvalidCollectorVersion, ManagedObjectNotFound, MethodNotFound, NotAuthenticated, NotSupported, RequestCanceled, VimFault, isTransient } from '../vsphere/faults.ts';
import type { MoRef, VmCryptoSnapshot } from '../vsphere/types.ts';
import { errorMessage } from '../errors.ts';
import type { FactGatherer } from './gather.ts';
import type { PlannedAction } from './plan.ts';
import { meta, taskOf, type Progress } from './progress.ts';
import type { TaskSemaphore } from './task-semaphore.ts';

/** An action failed for a reason retrying will not fix: the incident escalates. */
export class ActionFailedError extends Error {
  constructor(
    readonly action: PlannedAction,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ActionFailedError';
  }
}

/** The VM lock was lost (another worker took over): stop before the next side effect and retry later. */
export class LostVmLockError extends Error {
  constructor(vm: string) {
    super(`lost the lock on VM ${vm}; another worker may hold it`);
    this.name = 'LostVmLockError';
  }
}

export interface ExecuteDeps {
  api: VsphereApi;
  gatherer: FactGatherer;
  semaphore: TaskSemaphore;
  policy: PolicyConfig;
  logger: Logger;
  /** Saves the job's progress (before and after each side effect). */
  save(progress: Progress): Promise<void>;
  /** Records the action's new state on the incident. */
  record(patch: Partial<ActionRecord>): Promise<void>;
  lockHeld(): boolean;
  taskTimeoutMs: number;
  /** How long a start call lost in a crash gets to show its effect before the step is started again (about the SOAP call timeout). */
  inflightGraceMs: number;
  /** Re-reads after an action until vCenter shows its effect (hostd applies keys asynchronously). */
  verify: { attempts: number; delayMs: number };
}

/** progress.tasks value while a start call is in flight (no task MoRef yet). */
const STARTING = 'starting@';

/** kind: set when the action ran as another kind (an unlock done by reload). */
export type ActionResult = { state: 'succeeded' | 'skipped'; note: string; task?: string; kind?: 'reload' };

const vmRef = (value: string): MoRef => ({ type: 'VirtualMachine', value });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one planned action exactly once across crashes: a task MoRef saved
 * before a crash is waited for instead of starting a new task; otherwise the VM
 * is re-read first and an action whose effect is already there is skipped.
 * Mutating tasks hold a slot of the vCenter's semaphore from start to end.
 */
export async function executeAction(deps: ExecuteDeps, moref: string, a: PlannedAction, progress: Progress): Promise<ActionResult> {
  switch (a.kind) {
    case 'cryptoUnlock':
      return unlock(deps, moref, a, progress);
    case 'reload':
      return reload(deps, moref, a, progress, a.id);
    case 'detachDisk': {
      const r = await runTask(deps, moref, a, progress, a.id, {
        skip: (vm) => {
          if (!vm.disks.some((d) => d.key === a.deviceKey)) return 'disk already detached';
          if (isLocked(vm)) throw new ActionFailedError(a, `VM ${moref} is still locked; vCenter refuses ReconfigVM_Task on a locked VM`);
          return undefined;
        },
        begin: () => deps.api.detachDisk(vmRef(moref), a.deviceKey!),
      });
      await verifyState(deps, moref, a, (vm) => !vm.disks.some((d) => d.key === a.deviceKey), `disk ${a.deviceKey} is still attached`);
      return r;
    }
    case 'powerOn': {
      const r = await runTask(deps, moref, a, progress, a.id, {
        skip: (vm) => (vm.powerState === 'poweredOn' ? 'VM already powered on' : undefined),
        begin: () => deps.api.powerOn(vmRef(moref)),
      });
      await verifyState(deps, moref, a, (vm) => vm.powerState === 'poweredOn', 'the VM is not powered on');
      return r;
    }
    case 'acknowledgeAlarm': {
      const vm = await readExisting(deps, moref, a, { maxAgeMs: REUSE_READ_MS });
      const st = vm.triggeredAlarmState.find((s) => s.alarm.value === a.alarm?.value);
      if (!st || st.acknowledged) return { state: 'skipped', note: st ? 'alarm already acknowledged' : 'alarm no longer triggered' };
      if (!deps.lockHeld()) throw new LostVmLockError(moref);
      await deps.api.acknowledgeAlarm(a.alarm!, vmRef(moref));
      return { state: 'succeeded', note: `alarm ${a.alarm!.value} acknowledged` };
    }
  }
}

async function unlock(deps: ExecuteDeps, moref: string, a: PlannedAction, progress: Progress): Promise<ActionResult> {
  // Fallback already chosen before a crash: continue with the reload.
  if (taskOf(progress, `${a.id}:reload`)) return reload(deps, moref, a, progress, `${a.id}:reload`);
  let r: ActionResult;
  try {
    r = await runTask(deps, moref, a, progress, a.id, {
      skip: (vm) => (unlockedSincePlan(vm, progress) ? 'VM already unlocked' : undefined),
      begin: () => deps.api.cryptoUnlock(vmRef(moref)),
    });
  } catch (err) {
    const missing = err instanceof MethodNotFound || err instanceof NotSupported || (err instanceof ActionFailedError && (err.cause instanceof MethodNotFound || err.cause instanceof NotSupported));
    if (missing && a.reloadFallback) {
      deps.logger.info({ vm: moref }, 'CryptoUnlock_Task is not available (vCenter before 6.7); reloading the VM from its own path');
      return reload(deps, moref, a, progress, `${a.id}:reload`);
    }
    throw err;
  }
  await verifyState(deps, moref, a, (vm) => !isLocked(vm), 'the VM is still locked after the keys were sent');
  return r;
}

/** An unlock is skipped only when the VM was locked when planned and is unlocked now. */
function unlockedSincePlan(vm: VmCryptoSnapshot, progress: Progress): boolean {
  return meta(progress, 'wasLocked') === 'true' && !isLocked(vm);
}

async function reload(deps: ExecuteDeps, moref: string, a: PlannedAction, progress: Progress, id: string): Promise<ActionResult> {
  const path = a.reloadFallback?.vmPathName;
  if (!path) throw new ActionFailedError(a, `no configuration path known for VM ${moref}; cannot reload it`);
  const r = await runTask(deps, moref, a, progress, id, {
    skip: (vm) => (unlockedSincePlan(vm, progress) ? 'VM already unlocked' : undefined),
    // Its own path only: registering under a new name fails for encrypted VMs.
    begin: () => deps.api.reloadFromPath(vmRef(moref), path),
  });
  await verifyState(deps, moref, a, (vm) => !isLocked(vm), 'the VM is still locked after the reload');
  return { ...r, kind: 'reload', note: `${r.note} (reloadVirtualMachineFromPath_Task on ${path})` };
}

/** How recent a read may be reused before a step (the diagnosis or the previous verification just read it). */
const REUSE_READ_MS = 5_000;

async function readExisting(deps: ExecuteDeps, moref: string, a: PlannedAction, opts: { maxAgeMs?: number; verify?: boolean } = {}): Promise<VmCryptoSnapshot> {
  const vm = await deps.gatherer.readVm(moref, opts);
  if (!vm) throw new ActionFailedError(a, `VM ${moref} no longer exists`);
  return vm;
}

/**
 * Starts (or resumes waiting for) the action's task under a semaphore slot.
 * `skip` sees a fresh read of the VM and returns a note when the effect is
 * already there; `begin` starts the task.
 */
async function runTask(
  deps: ExecuteDeps,
  moref: string,
  a: PlannedAction,
  progress: Progress,
  id: string,
  step: { skip: (vm: VmCryptoSnapshot) => string | undefined; begin: () => Promise<MoRef> },
): Promise<ActionResult> {
  let existing = taskOf(progress, id);
  if (existing?.startsWith(STARTING)) {
    // The start call was sent before a crash but its answer (the task) was never saved:
    // the task may exist. Give it time to show its effect before starting another.
    const since = Date.parse(existing.slice(STARTING.length)) || 0;
    for (;;) {
      const note = step.skip(await readExisting(deps, moref, a));
      if (note !== undefined) return { state: 'skipped', note: `${note} (by the task started before the restart)` };
      if (Date.now() - since >= deps.inflightGraceMs) break;
      await sleep(Math.min(500, deps.verify.delayMs));
    }
    delete progress.tasks[id];
    await deps.save(progress);
    existing = undefined;
  }
  if (!existing) {
    const note = step.skip(await readExisting(deps, moref, a, { maxAgeMs: REUSE_READ_MS }));
    if (note !== undefined) return { state: 'skipped', note };
  }
  const lease = await deps.semaphore.acquire(deps.api.name, deps.policy.maxConcurrentTasksPerVcenter);
  try {
    let task: MoRef;
    if (existing) {
      task = { type: 'Task', value: existing };
      deps.logger.info({ vm: moref, task: existing, action: id }, 'resuming: waiting for the task started before the restart');
    } else {
      if (!deps.lockHeld()) throw new LostVmLockError(moref);
      progress.tasks[id] = `${STARTING}${new Date().toISOString()}`;
      await deps.save(progress);
      try {
        task = await step.begin();
      } catch (err) {
        delete progress.tasks[id];
        await deps.save(progress);
        if (isTransient(err)) throw err;
        throw new ActionFailedError(a, `${a.kind} could not start: ${errorMessage(err)}`, { cause: err });
      }
    }
    // Start waiting at once; the task MoRef is saved meanwhile (the task runs anyway), and
    // both are done before the result is acted on.
    // shared: no result is read, so another worker's sighting of the success frees the slot as well.
    const waiting = deps.api.waitForTask(task, { timeoutMs: deps.taskTimeoutMs, shared: true });
    waiting.catch(() => undefined);
    if (!existing) {
      progress.tasks[id] = task.value;
      await Promise.all([deps.save(progress), deps.record({ state: 'started', task: task.value, startedAt: new Date().toISOString() })]);
    }
    try {
      await waiting;
      deps.gatherer.forgetVm(moref);
    } catch (err) {
      deps.gatherer.forgetVm(moref);
      if (existing && err instanceof ManagedObjectNotFound) {
        // vCenter forgot the task: the re-read in verifyState decides.
        return { state: 'succeeded', note: `task ${task.value} is gone from vCenter; result checked by re-reading the VM`, task: task.value };
      }
      // The wait failed, not the task (network, session, collector): keep the task and wait for it again on retry.
      if (!(err instanceof VimFault) || err instanceof NotAuthenticated || err instanceof InvalidCollectorVersion || err instanceof RequestCanceled) throw err;
      // The task ended with this fault: a retry (for a transient one) starts a new task.
      delete progress.tasks[id];
      await deps.save(progress);
      if (isTransient(err)) throw err;
      throw new ActionFailedError(a, `${a.kind} task ${task.value} failed: ${errorMessage(err)}`, { cause: err });
    }
    return { state: 'succeeded', note: `task ${task.value} succeeded`, task: task.value };
  } finally {
    await lease.release().catch(() => undefined);
  }
}

async function verifyState(deps: ExecuteDeps, moref: string, a: PlannedAction, ok: (vm: VmCryptoSnapshot) => boolean, problem: string): Promise<void> {
  for (let i = 0; i < deps.verify.attempts; i++) {
    const vm = await readExisting(deps, moref, a, { verify: true });
    if (ok(vm)) return;
    if (i < deps.verify.attempts - 1) await sleep(deps.verify.delayMs);
  }
  throw new ActionFailedError(a, `verification after ${a.kind} failed: ${problem}`);
}
