import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import { isClosed, parseIncidentJob, type IncidentJob } from '../incidents/model.ts';
import type { IncidentStore } from '../incidents/store.ts';
import type { Logger } from '../log.ts';
import { meta, setMeta, initialProgress, type Progress } from '../remediation/progress.ts';
import { runIncident, type Notify, type RunResult } from '../remediation/run-incident.ts';
import type { TaskSemaphore } from '../remediation/task-semaphore.ts';
import type { VmLockManager } from '../remediation/vm-lock.ts';
import { incidentsClosed } from '../ops/metrics.ts';
import type { VcenterPool } from './clients.ts';
import { retryDelay, shouldRetry } from './retry.ts';

export interface ProcessorDeps {
  config: Config;
  logger: Logger;
  store: IncidentStore;
  pool: VcenterPool;
  semaphore: TaskSemaphore;
  vmLocks: VmLockManager;
  notify: Notify;
  verify?: { attempts: number; delayMs: number };
  inflightGraceMs?: number;
}

/**
 * The BullMQ processor of the incidents queue. Waits (KMS, approval, VM busy,
 * transient faults) park the job as delayed (moveToDelayed + DelayedError), so
 * no worker slot sleeps; retries of transient faults are counted in the job's
 * progress (meta:retries) and end as `failed` after config.worker.attempts.
 */
export function createProcessor(deps: ProcessorDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    let data: IncidentJob;
    try {
      data = parseIncidentJob(job.data);
    } catch (err) {
      deps.logger.error({ jobId: job.id, err: errorMessage(err) }, 'incident job rejected');
      throw new UnrecoverableError(errorMessage(err));
    }
    const log = deps.logger.child({ incidentId: data.incidentId, vcenter: data.vcenter, vm: data.vm.moref });
    const save = async (progress: Progress): Promise<void> => {
      data = { ...data, progress: structuredClone(progress) };
      await job.updateData(data);
    };
    const park = async (ms: number): Promise<never> => {
      await job.moveToDelayed(Date.now() + ms, token);
      throw new DelayedError();
    };

    let result: RunResult;
    try {
      const { api, gatherer } = await deps.pool.get(data.vcenter);
      result = await runIncident(
        {
          api,
          gatherer,
          store: deps.store,
          policy: deps.config.policy,
          semaphore: deps.semaphore,
          vmLocks: deps.vmLocks,
          notify: deps.notify,
          logger: log,
          backoffMs: deps.config.worker.backoff,
          ...(deps.verify ? { verify: deps.verify } : {}),
          ...(deps.inflightGraceMs !== undefined ? { inflightGraceMs: deps.inflightGraceMs } : {}),
        },
        { job: data, save },
      );
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      const progress = structuredClone(data.progress ?? initialProgress());
      const retries = Number(meta(progress, 'retries') ?? 0);
      if (shouldRetry(err) && retries + 1 < deps.config.worker.attempts) {
        setMeta(progress, 'retries', String(retries + 1));
        await save(progress);
        const ms = retryDelay(deps.config.worker.backoff, retries);
        log.warn({ err: errorMessage(err), retry: retries + 1, inMs: ms }, 'transient problem; retrying later');
        await deps.store.appendTimeline(data.incidentId, { type: 'note', message: `transient problem, retry ${retries + 1} in ${ms} ms: ${errorMessage(err)}` }).catch(() => undefined);
        return park(ms);
      }
      return failIncident(deps, data, log, err);
    }
    if (result.kind === 'delay') {
      log.info({ reason: result.reason, inMs: result.ms }, 'incident parked');
      return park(result.ms);
    }
    return result.state;
  };
}

/** Closes the incident as failed (permanent error or retries used up); the job completes. */
async function failIncident(deps: ProcessorDeps, data: IncidentJob, log: Logger, err: unknown): Promise<string> {
  const message = `failed: ${errorMessage(err)}`;
  log.error({ err: errorMessage(err) }, 'incident failed');
  const inc = await deps.store.get(data.incidentId, { timeline: false }).catch(() => null);
  if (!inc) throw new UnrecoverableError(message);
  if (isClosed(inc.state)) return inc.state;
  await deps.store.close(
    data.incidentId,
    'failed',
    message,
    `vmlock could not finish incident ${data.incidentId} (${errorMessage(err)}): check vCenter ${data.vcenter} and VM ${data.vm.name}, then run \`vmlock unlock ${data.vm.name}\``,
  );
  incidentsClosed.inc({ vcenter: data.vcenter, outcome: 'failed', cause: inc.causes[0]?.code ?? 'none' });
  const closed = await deps.store.get(data.incidentId, { timeline: false });
  if (closed) await deps.notify({ transition: 'failed', incident: closed, summary: message }).catch(() => undefined);
  return 'failed';
}
