import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { VsphereClient } from '../../src/vsphere/client.ts';
import { RedisTaskFeed } from '../../src/worker/task-feed.ts';
import { RedisSubscriber } from '../../src/util/redis-subscriber.ts';
import { createLogger } from '../../src/log.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

/**
 * Worker processes share the task successes they see over Redis: two clients
 * on one simulator (as two worker processes), each with its RedisTaskFeed on
 * the same channel, plus a raw Redis connection acting as a third process.
 */
let sim: RunningSimulator;
let control: SimControl;
let redis: Redis;
let listener: Redis;
const clients: VsphereClient[] = [];
const feeds: RedisTaskFeed[] = [];
/** One pub/sub connection per simulated worker process, as the worker has. */
const subscribers: RedisSubscriber[] = [];
const channel = `${uniquePrefix('feed')}:tasks:sim:succeeded`;
const logLines: string[] = [];
const logger = createLogger({ level: 'warn', destination: { write: (s: string) => void logLines.push(s) } });

const vmRef = (value: string) => ({ type: 'VirtualMachine', value });

async function newClient(name: string): Promise<VsphereClient> {
  const c = new VsphereClient({ name, url: sim.url, user: sim.user, password: sim.password, callTimeoutMs: 20_000 });
  await c.connect();
  const subscriber = new RedisSubscriber(redis);
  subscribers.push(subscriber);
  const feed = new RedisTaskFeed(redis, subscriber, channel, logger);
  c.shareTaskCompletions(feed);
  clients.push(c);
  feeds.push(feed);
  return c;
}

/** Locks N clean VMs (drops their home keys from the host cache) and returns their morefs. */
async function lockedVms(n: number): Promise<string[]> {
  const vms = (await control.vms()).filter((v) => v.cryptoState === 'unlocked' && v.keyId).slice(0, n);
  await control.lock(vms.map((v) => v.moref));
  return vms.map((v) => v.moref);
}

beforeAll(async () => {
  sim = await startSimulator({ scenario: 'clean', vms: 20, taskDurationsMs: { CryptoUnlock_Task: 600 }, logger: createLogger({ level: 'silent' }) });
  control = new SimControl(sim.url.replace(/\/sdk$/, '/_sim'));
  redis = new Redis(REDIS_URL);
  listener = new Redis(REDIS_URL);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(subscribers.map((s) => s.close()));
  redis?.disconnect();
  listener?.disconnect();
  await sim?.stop();
});

describe('task completion feed', () => {
  it("a shared wait settles on another process's sighting, before its own; a plain wait does not", async () => {
    const a = await newClient('a');
    await new Promise((r) => setTimeout(r, 100)); // the subscription is in place
    const [vm] = await lockedVms(1);
    const task = await a.cryptoUnlock(vmRef(vm!));
    const t0 = Date.now();
    let plainDone = false;
    const plain = a.waitForTask(task, { timeoutMs: 10_000 }).then((i) => ((plainDone = true), i));
    const shared = a.waitForTask(task, { timeoutMs: 10_000, shared: true });
    // Another worker process says the task succeeded (it runs for 600 ms).
    await redis.publish(channel, JSON.stringify({ from: 'other-process', succeeded: [task.value] }));
    const info = await shared;
    expect(info.state).toBe('success');
    expect(Date.now() - t0).toBeLessThan(500);
    expect(plainDone).toBe(false);
    expect((await control.vm(vm!)).cryptoState).toBe('locked'); // the task is still running
    expect((await plain).state).toBe('success'); // and the plain wait settles on the client's own read
    expect((await control.vm(vm!)).cryptoState).toBe('unlocked');
  });

  it('a process shares the successes of tasks it did not wait for, and never its own', async () => {
    const a = clients[0] ?? (await newClient('a'));
    const b = await newClient('b');
    const messages: { from: string; succeeded: string[] }[] = [];
    await listener.subscribe(channel);
    listener.on('message', (_ch: string, raw: string) => messages.push(JSON.parse(raw) as { from: string; succeeded: string[] }));
    const [vmB, vmA] = await lockedVms(2);
    // b's task ends while a still waits for its own (started 300 ms later): a's loop sees b's end.
    const taskB = await b.cryptoUnlock(vmRef(vmB!));
    const waitB = b.waitForTask(taskB, { timeoutMs: 10_000, shared: true });
    await new Promise((r) => setTimeout(r, 300));
    const taskA = await a.cryptoUnlock(vmRef(vmA!));
    await Promise.all([waitB, a.waitForTask(taskA, { timeoutMs: 10_000, shared: true })]);
    await new Promise((r) => setTimeout(r, 100));
    const shared = messages.flatMap((m) => m.succeeded);
    expect(shared).toContain(taskB.value);
    // Each process shares only what it did not wait for itself.
    const senders = new Map<string, Set<string>>();
    for (const m of messages) for (const t of m.succeeded) (senders.get(t) ?? senders.set(t, new Set()).get(t)!).add(m.from);
    expect(senders.get(taskB.value)?.size).toBe(1);
    await listener.unsubscribe(channel);
  });

  it('a malformed message settles nothing and is logged once, naming the problem', async () => {
    const a = clients[0]!;
    const [vm] = await lockedVms(1);
    const task = await a.cryptoUnlock(vmRef(vm!));
    let done = false;
    const wait = a.waitForTask(task, { timeoutMs: 10_000, shared: true }).then((i) => ((done = true), i));
    await redis.publish(channel, JSON.stringify({ from: 'other', succeeded: [`${task.value} extra`] }));
    await redis.publish(channel, 'garbage');
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    const warnings = logLines.filter((l) => l.includes('ignored a malformed task completion message'));
    expect(warnings[0]).toMatch(/not a task id/);
    // Once a minute per process at most: two bad messages, one line per feed.
    expect(warnings.length).toBeLessThanOrEqual(feeds.length);
    expect((await wait).state).toBe('success');
  });
});
