import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { INCIDENTS_QUEUE, NOTIFICATIONS_QUEUE, type Incident, type IncidentJob, type Signal } from '../../src/incidents/model.ts';
import { IncidentStore } from '../../src/incidents/store.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

/** A simulator, a private Redis prefix and the queue, for worker tests; cleaned by close(). */
export interface WorkerWorld {
  sim: RunningSimulator;
  control: SimControl;
  prefix: string;
  redis: Redis;
  store: IncidentStore;
  queue: Queue;
  config(overrides?: Record<string, unknown>): Config;
  enqueue(vm: { moref: string; name: string }, kind?: Signal['kind']): Promise<string>;
  waitClosed(ids: string[], timeoutMs: number): Promise<Incident[]>;
  close(): Promise<void>;
}

export const silent = pino({ level: process.env.VMLOCK_TEST_LOG ?? 'silent' });

export async function workerWorld(name: string, sim: SimulatorOptions): Promise<WorkerWorld> {
  const s = await startSimulator({ port: 0, logger: silent, ...sim });
  const prefix = uniquePrefix(name);
  const redis = new Redis(REDIS_URL);
  const store = new IncidentStore(redis, prefix);
  const queue = new Queue(INCIDENTS_QUEUE, { connection: { url: REDIS_URL }, prefix });
  const world: WorkerWorld = {
    sim: s,
    control: new SimControl(s.controlUrl),
    prefix,
    redis,
    store,
    queue,
    config: (overrides = {}) =>
      configSchema.parse({
        vcenters: [{ name: 'sim', url: s.url, user: s.user, password: s.password }],
        redis: { url: REDIS_URL, prefix },
        http: { enabled: false },
        logging: { level: 'silent' },
        worker: { concurrency: 8, attempts: 5, backoff: '200ms' },
        ...overrides,
      }),
    enqueue: async (vm, kind = 'reconcile') => {
      const at = new Date().toISOString();
      const signal: Signal = { kind, at, detail: `test signal (${kind})` };
      const { id } = await store.openOrJoin('sim', vm, signal);
      const job: IncidentJob = { incidentId: id, vcenter: 'sim', vm, openedAt: at, signal };
      await queue.add('incident', job, { jobId: id });
      return id;
    },
    waitClosed: async (ids, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = await Promise.all(ids.map((id) => store.require(id)));
        if (all.every((i) => ['resolved', 'escalated', 'failed'].includes(i.state))) return all;
        if (Date.now() > deadline) {
          throw new Error(`incidents still open after ${timeoutMs} ms: ${all.filter((i) => !['resolved', 'escalated', 'failed'].includes(i.state)).map((i) => `${i.id}=${i.state}`).join(', ')}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: async () => {
      const notifications = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
      await Promise.allSettled([queue.obliterate({ force: true }), notifications.obliterate({ force: true })]);
      await Promise.allSettled([queue.close(), notifications.close()]);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await s.stop();
    },
  };
  return world;
}
