import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import { diagnose, type Diagnosis } from '../diagnosis/diagnose.ts';
import type { VmFacts } from '../diagnosis/facts.ts';
import { VmlockError } from '../errors.ts';
import { INCIDENTS_QUEUE, isClosed, type Incident, type IncidentJob, type IncidentState } from '../incidents/model.ts';
import { IncidentStore } from '../incidents/store.ts';
import type { Logger } from '../log.ts';
import { NotificationOutbox } from '../notify/index.ts';
import { FactGatherer } from '../remediation/gather.ts';
import { planRemediation, type Plan } from '../remediation/plan.ts';
import { initialProgress, type Progress } from '../remediation/progress.ts';
import { APPROVAL_RECHECK_MS, runIncident, type Notify, type RunResult } from '../remediation/run-incident.ts';
import { TaskSemaphore } from '../remediation/task-semaphore.ts';
import { VmLockManager } from '../remediation/vm-lock.ts';
import type { VsphereApi } from '../vsphere/api.ts';
import { createClientFromConfig } from '../vsphere/client.ts';
import { userInfo } from 'node:os';

export interface FoundVm {
  vcenter: string;
  api: VsphereApi;
  moref: string;
  name: string;
}

const MOREF = /^vm-\d+$/;

/**
 * Finds a VM by moref (vm-42) or name on the configured vCenters (the first
 * that has it) and returns a connected client; the caller closes it. Several
 * VMs with that name on one vCenter is an error naming their morefs.
 */
export async function findVm(config: Config, logger: Logger, vm: string): Promise<FoundVm> {
  if (config.vcenters.length === 0) {
    throw new VmlockError('VMLOCK_ERR_USAGE', 'no vCenter configured: add one under "vcenters" in the config file, or pass --vcenter https://HOST/sdk --user USER');
  }
  for (const vc of config.vcenters) {
    const api = createClientFromConfig(vc, logger);
    try {
      await api.connect();
    } catch (err) {
      await api.close().catch(() => undefined);
      throw new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', `vCenter ${vc.name}: ${(err as Error).message}`, { cause: err });
    }
    const states = await api.listVmStates();
    const matches = states.filter((s) => (MOREF.test(vm) ? s.moref.value === vm : s.name === vm));
    if (matches.length === 1) return { vcenter: vc.name, api, moref: matches[0]!.moref.value, name: matches[0]!.name };
    await api.close().catch(() => undefined);
    if (matches.length > 1) {
      throw new VmlockError('VMLOCK_ERR_USAGE', `${matches.length} VMs are named "${vm}" on vCenter ${vc.name} (${matches.map((m) => m.moref.value).join(', ')}): name one by its moref`);
    }
  }
  throw new VmlockError('VMLOCK_ERR_NOT_FOUND', `no VM "${vm}" on ${config.vcenters.map((v) => v.name).join(', ')}`);
}

export interface DiagnoseOutput {
  vcenter: string;
  vm: { moref: string; name: string };
  facts: VmFacts;
  diagnosis: Diagnosis;
  plan: Plan;
}

/** Facts, causes and plan for one VM; changes nothing. */
export async function diagnoseVm(config: Config, logger: Logger, vm: string): Promise<DiagnoseOutput> {
  const found = await findVm(config, logger, vm);
  try {
    const facts = await new FactGatherer(found.api, logger).gather(found.moref);
    const diagnosis = diagnose(facts);
    const plan = planRemediation(diagnosis, facts, config.policy, {
      wasPoweredOn: facts.snapshot?.powerState === 'poweredOn' || facts.signalKind === 'powerOnFailure',
    });
    return { vcenter: found.vcenter, vm: { moref: found.moref, name: found.name }, facts, diagnosis, plan };
  } finally {
    await found.api.close().catch(() => undefined);
  }
}

export interface UnlockOutput {
  incident: Incident;
  /** How it ended here: closed, awaiting approval, or handed to the workers. */
  ended: IncidentState | 'handed-to-workers';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `vmlock unlock VM`: opens (or joins) the VM's incident and runs the same
 * pipeline as the workers in the foreground, sharing their Redis locks and
 * semaphore. An incident the workers already hold (its job is queued) is woken
 * and waited for instead, so the two never race.
 */
export async function unlockVm(config: Config, logger: Logger, vm: string, opts: { waitMs?: number } = {}): Promise<UnlockOutput> {
  const found = await findVm(config, logger, vm);
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const queue = new Queue(INCIDENTS_QUEUE, { connection: { url: config.redis.url }, prefix: config.redis.prefix });
  queue.on('error', () => undefined);
  const outbox = new NotificationOutbox({ redisUrl: config.redis.url, prefix: config.redis.prefix, logger });
  let semaphore: TaskSemaphore | undefined;
  try {
    const store = new IncidentStore(redis, config.redis.prefix);
    const at = new Date().toISOString();
    const signal = { kind: 'manual' as const, at, detail: `vmlock unlock${config.policy.dryRun ? ' --dry-run' : ''} by ${process.env.USER ?? operatorName()}` };
    const { id, created } = await store.openOrJoin(found.vcenter, { moref: found.moref, name: found.name }, signal);
    const job = created ? undefined : await queue.getJob(id);
    const deadline = Date.now() + (opts.waitMs ?? config.policy.kmsWaitTimeout + 15 * 60_000);
    if (job && !(await job.isCompleted()) && !(await job.isFailed())) {
      if (await job.isDelayed()) await job.promote().catch(() => undefined);
      // The workers hold it: follow it for a while (they may be busy or not running).
      const handOverDeadline = Date.now() + (opts.waitMs ?? 120_000);
      for (;;) {
        const inc = await store.require(id);
        if (isClosed(inc.state) || inc.state === 'awaiting-approval') return { incident: inc, ended: inc.state };
        if (Date.now() > handOverDeadline) return { incident: inc, ended: 'handed-to-workers' };
        await sleep(500);
      }
    }
    const data: IncidentJob = { incidentId: id, vcenter: found.vcenter, vm: { moref: found.moref, name: found.name }, openedAt: at, signal };
    let progress: Progress = initialProgress();
    semaphore = new TaskSemaphore(redis, config.redis.prefix);
    const deps = {
      api: found.api,
      gatherer: new FactGatherer(found.api, logger),
      store,
      policy: config.policy,
      semaphore,
      vmLocks: new VmLockManager(redis, config.redis.prefix),
      notify: (async (n) => {
        await outbox.emit({ ...n, vcenterSource: `vmlock/vcenter/${found.vcenter}`, at: new Date().toISOString() });
      }) satisfies Notify,
      logger,
      backoffMs: config.worker.backoff,
    };
    for (;;) {
      const r: RunResult = await runIncident(deps, {
        job: { ...data, progress },
        save: async (p) => {
          progress = structuredClone(p);
        },
      });
      const inc = await store.require(id);
      if (r.kind === 'closed') return { incident: inc, ended: r.state };
      if (r.reason === 'approval') {
        // Parked for the workers: `vmlock approve` (or the HTTP API) wakes it and a worker finishes it.
        await queue.add('incident', { ...data, progress }, { jobId: id, delay: APPROVAL_RECHECK_MS, removeOnComplete: { age: 86_400, count: 10_000 } });
        return { incident: inc, ended: 'awaiting-approval' };
      }
      if (Date.now() + r.ms > deadline) return { incident: inc, ended: inc.state };
      logger.info({ reason: r.reason, inMs: r.ms }, 'waiting');
      await sleep(r.ms);
    }
  } finally {
    await Promise.allSettled([found.api.close(), queue.close(), outbox.close(), semaphore?.close()]);
    redis.disconnect();
  }
}

/** Who ran the command, for the audit trail: the login name, even where USER is unset. */
function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}
