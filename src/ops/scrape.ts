import { Gauge } from 'prom-client';
import type { Queue } from 'bullmq';
import { registry } from './metrics.ts';
import type { Redis } from 'ioredis';

/**
 * Gauges that mirror state kept in Redis. They are filled just before each
 * /metrics scrape (refreshScrapeGauges), so every process that serves
 * /metrics reports the deployment-wide picture, not only its own work.
 */
export const incidentsByState = new Gauge({
  name: 'vmlock_incidents',
  help: 'Incidents known to the store, by state and first cause (cause="" before diagnosis)',
  labelNames: ['state', 'cause'] as const,
  registers: [registry],
});

export const queueJobs = new Gauge({
  name: 'vmlock_queue_jobs',
  help: 'BullMQ jobs by queue and status (waiting, active, delayed, prioritized, failed)',
  labelNames: ['queue', 'status'] as const,
  registers: [registry],
});

export const notificationsPending = new Gauge({
  name: 'vmlock_notifications_pending',
  help: 'Notifications not yet published to RabbitMQ (waiting, active or delayed in the notifications queue)',
  registers: [registry],
});

export interface ScrapeSources {
  /** Redis and the deployment's prefix: incidents are counted from the store's keys (see store.ts). */
  redis?: Redis;
  prefix?: string;
  incidents?: Queue;
  notifications?: Queue;
}

/** How many incidents a scrape reads at most (newest first). */
export const SCRAPE_INCIDENT_LIMIT = 10_000;

const QUEUE_STATUSES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

export async function refreshScrapeGauges(sources: ScrapeSources): Promise<void> {
  if (sources.redis && sources.prefix !== undefined) {
    incidentsByState.reset();
    for (const { state, cause, n } of await countIncidents(sources.redis, sources.prefix)) incidentsByState.set({ state, cause }, n);
  }
  for (const queue of [sources.incidents, sources.notifications]) {
    if (!queue) continue;
    const counts = await queue.getJobCounts(...QUEUE_STATUSES);
    for (const status of QUEUE_STATUSES) queueJobs.set({ queue: queue.name, status }, counts[status] ?? 0);
  }
  if (sources.notifications) {
    const c = await sources.notifications.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    notificationsPending.set((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0));
  }
}

const BATCH = 1000;

/**
 * Incidents by state and first cause, read with pipelined HMGETs over the
 * store's documented keys (P:incidents, P:incident:<id> fields state and
 * causes) rather than one round trip per incident: a scrape stays cheap with
 * thousands of incidents.
 */
export async function countIncidents(redis: Redis, prefix: string): Promise<{ state: string; cause: string; n: number }[]> {
  const ids = await redis.zrevrange(`${prefix}:incidents`, 0, SCRAPE_INCIDENT_LIMIT - 1);
  const counts = new Map<string, { state: string; cause: string; n: number }>();
  for (let i = 0; i < ids.length; i += BATCH) {
    const pipe = redis.pipeline();
    for (const id of ids.slice(i, i + BATCH)) pipe.hmget(`${prefix}:incident:${id}`, 'state', 'causes');
    for (const [err, value] of (await pipe.exec()) ?? []) {
      if (err || !Array.isArray(value)) continue;
      const [state, causes] = value as [string | null, string | null];
      if (!state) continue;
      const cause = firstCause(causes);
      const key = `${state}\u0000${cause}`;
      const entry = counts.get(key) ?? { state, cause, n: 0 };
      entry.n += 1;
      counts.set(key, entry);
    }
  }
  return [...counts.values()];
}

function firstCause(json: string | null): string {
  if (!json) return '';
  try {
    const list = JSON.parse(json) as unknown;
    const first = Array.isArray(list) ? (list[0] as { code?: unknown } | undefined) : undefined;
    return typeof first?.code === 'string' ? first.code : '';
  } catch {
    return 'unreadable';
  }
}
