import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { IncidentStore } from '../../src/incidents/store.ts';
import { INCIDENTS_QUEUE } from '../../src/incidents/model.ts';
import { BENCH_VCENTER } from './vmlock-config.ts';

/**
 * What the bench reads back from Redis under one run's prefix: the incidents
 * vmlock opened (IncidentStore) and their BullMQ jobs (job id = incident id).
 * Read-only: vmlock itself writes everything here.
 */
export class IncidentWatch {
  readonly #redis: Redis;
  readonly #store: IncidentStore;
  readonly #queue: Queue;
  readonly #prefix: string;

  constructor(redisUrl: string, prefix: string) {
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.#store = new IncidentStore(this.#redis, prefix);
    this.#queue = new Queue(INCIDENTS_QUEUE, { connection: this.#redis, prefix });
    this.#prefix = prefix;
  }

  /** The VM's open incident id, or null. */
  openId(moref: string): Promise<string | null> {
    return this.#store.findOpen(BENCH_VCENTER, moref);
  }

  /** The id of the VM's newest incident, open or closed, or null. */
  async latestId(moref: string): Promise<string | null> {
    return (await this.#store.findLatest(BENCH_VCENTER, moref))?.id ?? null;
  }

  /** When BullMQ added the incident's job (ms, the poller's clock = this machine's), or undefined if not there yet. */
  async jobTimestamp(incidentId: string): Promise<number | undefined> {
    const job = await this.#queue.getJob(incidentId);
    return job ? job.timestamp : undefined;
  }

  /**
   * First and latest add, start and finish times (ms) over the finished
   * incident jobs added at or after `since`, to tell where a slow storm spent
   * its time (detection, queueing or remediation).
   */
  async jobTimes(limit: number, since = 0): Promise<{ jobs: number; firstAdded: number; firstStarted: number; lastAdded: number; lastStarted: number; lastFinished: number }> {
    const jobs = (await this.#queue.getJobs(['completed', 'failed'], 0, limit - 1)).filter((j) => j.timestamp >= since);
    const values = (f: (j: (typeof jobs)[number]) => number | undefined): number[] => jobs.map((j) => f(j) ?? Number.NaN).filter(Number.isFinite);
    const max = (f: (j: (typeof jobs)[number]) => number | undefined): number => Math.max(...values(f));
    const min = (f: (j: (typeof jobs)[number]) => number | undefined): number => Math.min(...values(f));
    return {
      jobs: jobs.length,
      firstAdded: min((j) => j.timestamp),
      firstStarted: min((j) => j.processedOn),
      lastAdded: max((j) => j.timestamp),
      lastStarted: max((j) => j.processedOn),
      lastFinished: max((j) => j.finishedOn),
    };
  }

  /** Incidents still open (one key per open incident). */
  async openCount(): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.#prefix}:open:*`, 'COUNT', 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
    return n;
  }

  /** Jobs not yet finished (waiting, active, delayed, prioritized). */
  async pendingJobs(): Promise<number> {
    const c = await this.#queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  /** Every incident ever opened under the prefix. */
  incidentCount(): Promise<number> {
    return this.#redis.zcard(`${this.#prefix}:incidents`);
  }

  /** Incidents by state (resolved, escalated, failed, or still open ones). */
  async outcomes(limit: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const inc of await this.#store.list({ limit, timeline: false })) out[inc.state] = (out[inc.state] ?? 0) + 1;
    return out;
  }

  async close(): Promise<void> {
    await this.#queue.close();
    this.#redis.disconnect();
  }
}
