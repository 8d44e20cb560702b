import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import { INCIDENTS_QUEUE } from '../incidents/model.ts';
import { IncidentStore } from '../incidents/store.ts';
import type { Logger } from '../log.ts';
import { NotificationOutbox, startNotifier, type NotifierHandle } from '../notify/index.ts';
import { health } from '../ops/health.ts';
import type { GatherOptions } from '../remediation/gather.ts';
import type { Notify } from '../remediation/run-incident.ts';
import { TaskSemaphore } from '../remediation/task-semaphore.ts';
import { VmLockManager } from '../remediation/vm-lock.ts';
import { VcenterPool, type ClientFactory } from './clients.ts';
import { createProcessor } from './processor.ts';
import { RedisTaskFeed } from './task-feed.ts';
import { RedisSubscriber } from '../util/redis-subscriber.ts';

/**
 * Stall handling. A worker renews each active job's BullMQ lock every
 * lockDuration/2 while it is alive, so long task waits never stall. A killed
 * worker's job is found stalled within lockDuration + stalledInterval and goes
 * back to wait; the next worker resumes it from job.progress. maxStalledCount 3
 * lets an incident survive several crashes of its workers but fails a job that
 * keeps killing them. A stalled job that is still running somewhere (a frozen,
 * not dead, process) may run twice; the per-VM Redis lock (VmLockManager)
 * keeps the two from running mutating steps at once, and a worker that lost
 * the lock stops before its next side effect.
 */
export interface WorkerTuning {
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
  /** Per-VM lock TTL (renewed every third). */
  vmLockTtlMs?: number;
  /** Semaphore lease (renewed every third). */
  taskLeaseMs?: number;
  gather?: GatherOptions;
  verify?: { attempts: number; delayMs: number };
  /** See ExecuteDeps.inflightGraceMs. */
  inflightGraceMs?: number;
  clientFactory?: ClientFactory;
}

export interface RunningWorker {
  readonly queue: Queue;
  stop(): Promise<void>;
}

/** Tuning from the environment (for tests and the benchmark): VMLOCK_WORKER_LOCK_MS, VMLOCK_WORKER_STALLED_MS, VMLOCK_WORKER_VMLOCK_MS, VMLOCK_WORKER_INFLIGHT_GRACE_MS. */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };
  const t: WorkerTuning = {};
  const lock = num('VMLOCK_WORKER_LOCK_MS');
  const stalled = num('VMLOCK_WORKER_STALLED_MS');
  const vmLock = num('VMLOCK_WORKER_VMLOCK_MS');
  const grace = num('VMLOCK_WORKER_INFLIGHT_GRACE_MS');
  if (grace) t.inflightGraceMs = grace;
  if (lock) t.lockDurationMs = lock;
  if (stalled) t.stalledIntervalMs = stalled;
  if (vmLock) t.vmLockTtlMs = vmLock;
  return t;
}

/** Starts the incident worker of this process (and the notifier when config.worker.runNotifier). */
export async function startWorker(opts: { config: Config; logger: Logger; tuning?: WorkerTuning }): Promise<RunningWorker> {
  const { config } = opts;
  const tuning = opts.tuning ?? {};
  const logger = opts.logger.child({ component: 'worker' });
  const prefix = config.redis.prefix;
  // Auto-pipelining: the commands of many concurrent incidents issued in one tick share one write (fewer syscalls in a storm).
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on('error', (err: Error) => {
    health.report('redis', false, 'unreachable', err.message);
  });
  redis.on('ready', () => health.report('redis', true, 'connected'));
  const store = new IncidentStore(redis, prefix);
  const outbox = new NotificationOutbox({ redisUrl: config.redis.url, prefix, logger });
  const notify: Notify = async (n) => {
    await outbox.emit({ ...n, vcenterSource: `vmlock/vcenter/${n.incident.vcenter}`, at: new Date().toISOString() });
  };
  // One pub/sub connection for the semaphore's releases and the task completion feeds.
  const subscriber = new RedisSubscriber(redis);
  // Worker processes tell each other which tasks they saw succeed (one channel per vCenter).
  const taskFeed = (vcenter: string): RedisTaskFeed => new RedisTaskFeed(redis, subscriber, `${prefix}:tasks:${vcenter}:succeeded`, logger.child({ vcenter }));
  const pool = new VcenterPool(config, logger, tuning.clientFactory, tuning.gather, taskFeed);
  const semaphore = new TaskSemaphore(redis, prefix, { leaseMs: tuning.taskLeaseMs ?? 30_000, subscriber });
  const vmLocks = new VmLockManager(redis, prefix, tuning.vmLockTtlMs ?? 30_000);
  const processor = createProcessor({
    config,
    logger,
    store,
    pool,
    semaphore,
    vmLocks,
    notify,
    ...(tuning.verify ? { verify: tuning.verify } : {}),
    ...(tuning.inflightGraceMs !== undefined ? { inflightGraceMs: tuning.inflightGraceMs } : {}),
  });

  const worker = new Worker(INCIDENTS_QUEUE, processor, {
    connection: { url: config.redis.url, maxRetriesPerRequest: null },
    prefix,
    concurrency: config.worker.concurrency,
    lockDuration: tuning.lockDurationMs ?? 60_000,
    stalledInterval: tuning.stalledIntervalMs ?? 30_000,
    maxStalledCount: tuning.maxStalledCount ?? 3,
  });
  worker.on('error', (err: Error) => logger.warn({ err: errorMessage(err) }, 'worker: Redis error'));
  worker.on('failed', (job, err) => logger.warn({ jobId: job?.id, err: errorMessage(err) }, 'incident job failed'));
  const queue = new Queue(INCIDENTS_QUEUE, { connection: { url: config.redis.url }, prefix });
  queue.on('error', () => undefined);

  let notifier: NotifierHandle | undefined;
  if (config.worker.runNotifier) notifier = startNotifier({ config, logger });
  health.report('worker', true, 'running');
  logger.info({ concurrency: config.worker.concurrency, vcenters: config.vcenters.map((v) => v.name) }, 'incident worker started');

  let stopped: Promise<void> | undefined;
  return {
    queue,
    stop: () =>
      (stopped ??= (async () => {
        await worker.close().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'worker close'));
        await notifier?.stop().catch(() => undefined);
        await Promise.allSettled([queue.close(), outbox.close(), pool.close(), semaphore.close(), subscriber.close()]);
        redis.disconnect();
        health.report('worker', false, 'stopped');
        logger.info('incident worker stopped');
      })()),
  };
}
