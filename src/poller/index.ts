import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { health as processHealth, type HealthRegistry } from '../ops/health.ts';
import { IncidentStore } from '../incidents/store.ts';
import { INCIDENTS_QUEUE } from '../incidents/model.ts';
import { createClientFromConfig } from '../vsphere/client.ts';
import { errorMessage } from '../errors.ts';
import { CheckpointStore } from './checkpoint.ts';
import { IncidentSink } from './incident-sink.ts';
import { VcenterLease } from './lease.ts';
import { VcenterPoller, type ClientFactory, type VcenterStatus } from './vcenter-poller.ts';

export { INCIDENT_JOB_NAME } from './incident-sink.ts';
export type { ClientFactory, VcenterStatus } from './vcenter-poller.ts';

export interface PollerOptions {
  config: Config;
  logger: Logger;
  health?: HealthRegistry;
  /** How a vCenter client is made (tests may wrap it); the SOAP client by default. */
  createClient?: ClientFactory;
  /** A stable name for logs and status (hostname:pid by default). */
  replicaId?: string;
}

export interface PollerStatus {
  replicaId: string;
  vcenters: VcenterStatus[];
}

export interface RunningPoller {
  /** The incidents queue this poller adds to (shared with the ops HTTP server). */
  readonly queue: Queue;
  readonly redis: Redis;
  status(): PollerStatus;
  /** Stops polling, releases the leases, closes Redis. Safe to call twice. */
  stop(): Promise<void>;
}

const defaultClientFactory: ClientFactory = async (vc, logger, hooks) => createClientFromConfig(vc, logger, { onCall: hooks.onCall });

/**
 * Starts one poller replica: for every configured vCenter, a VcenterPoller
 * that polls it while this replica holds its Redis lease. Redis keys are
 * under config.redis.prefix; jobs go to the BullMQ queue INCIDENTS_QUEUE
 * ('incidents') with the same prefix. See docs/architecture.md.
 */
export async function startPoller(opts: PollerOptions): Promise<RunningPoller> {
  const { config } = opts;
  const replicaId = opts.replicaId ?? `${process.env.HOSTNAME ?? 'local'}:${process.pid}`;
  const logger = opts.logger.child({ replica: replicaId });
  const health = opts.health ?? processHealth;
  const prefix = config.redis.prefix;
  // Redis down at start or later is not fatal: ioredis reconnects, commands
  // fail after a few attempts, and the lease loop logs and retries.
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3 });
  let redisDown = false;
  redis.on('error', (err) => {
    if (!redisDown) logger.warn({ redis: redactRedisUrl(config.redis.url), err: errorMessage(err) }, 'Redis unreachable; retrying');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) logger.info('Redis reachable again');
    redisDown = false;
  });
  // A connection of its own: BullMQ does not close a connection it was given, so we keep the handle.
  const queueConnection = redis.duplicate({ maxRetriesPerRequest: null });
  queueConnection.on('error', (err) => logger.debug({ err: errorMessage(err) }, 'redis (queue) connection error'));
  const queue = new Queue(INCIDENTS_QUEUE, { connection: queueConnection, prefix });
  // Connection errors are already reported once above; BullMQ repeats them on every retry.
  queue.on('error', (err) => logger.debug({ err: errorMessage(err) }, 'incidents queue error'));
  const store = new IncidentStore(redis, prefix);
  const checkpoints = new CheckpointStore(redis, prefix);
  const createClient = opts.createClient ?? defaultClientFactory;

  if (config.vcenters.length === 0) logger.warn('no vCenter configured: the poller has nothing to watch');
  const pollers = config.vcenters.map(
    (vc) =>
      new VcenterPoller({
        vc,
        config,
        logger,
        health,
        lease: new VcenterLease({ redis, prefix, vcenter: vc.name, ttlMs: config.poller.leaseTtl, logger }),
        sink: new IncidentSink({ vcenter: vc.name, store, queue, config, logger }),
        store,
        checkpoints,
        createClient,
      }),
  );
  for (const p of pollers) p.start();
  logger.info({ vcenters: config.vcenters.map((v) => v.name), prefix }, 'poller started');

  let stopping: Promise<void> | undefined;
  return {
    queue,
    redis,
    status: () => ({ replicaId, vcenters: pollers.map((p) => p.status()) }),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.allSettled(pollers.map((p) => p.stop()));
        await queue.close().catch(() => undefined);
        await queueConnection.quit().catch(() => queueConnection.disconnect());
        await redis.quit().catch(() => redis.disconnect());
        logger.info('poller stopped');
      })()),
  };
}

function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
}
