import { Gauge } from 'prom-client';
import type { Queue } from 'bullmq';
import { registry } from './metrics.ts';
import type { IncidentStore } from '../incidents/store.ts';

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
  store?: IncidentStore;
  incidents?: Queue;
  notifications?: Queue;
}

/** How many incidents a scrape reads at most (newest first). */
export const SCRAPE_INCIDENT_LIMIT = 10_000;

const QUEUE_STATUSES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

export async function refreshScrapeGauges(sources: ScrapeSources): Promise<void> {
  if (sources.store) {
    const incidents = await sources.store.list({ limit: SCRAPE_INCIDENT_LIMIT, timeline: false });
    const counts = new Map<string, { state: string; cause: string; n: number }>();
    for (const inc of incidents) {
      const cause = inc.causes[0]?.code ?? '';
      const key = `${inc.state}\u0000${cause}`;
      const entry = counts.get(key) ?? { state: inc.state, cause, n: 0 };
      entry.n += 1;
      counts.set(key, entry);
    }
    incidentsByState.reset();
    for (const { state, cause, n } of counts.values()) incidentsByState.set({ state, cause }, n);
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
