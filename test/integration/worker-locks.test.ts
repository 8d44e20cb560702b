import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TaskSemaphore } from '../../src/remediation/task-semaphore.ts';
import { VmLockManager } from '../../src/remediation/vm-lock.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

let redis: Redis;
const prefixes: string[] = [];
beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});
const prefix = (n: string) => {
  const p = uniquePrefix(n);
  prefixes.push(p);
  return p;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TaskSemaphore (per-vCenter task limit across processes)', () => {
  it('lets at most `limit` holders in at once, from several independent clients', async () => {
    const p = prefix('sem');
    const clients = [redis, redis.duplicate(), redis.duplicate()];
    // Three "processes"; their waiters are woken by releases (no fast polling here).
    const sems = clients.map((c) => new TaskSemaphore(c, p, { pollMs: 5_000 }));
    let inside = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const lease = await sems[i % 3]!.acquire('vc1', 3);
        inside++;
        peak = Math.max(peak, inside);
        await sleep(15);
        inside--;
        await lease.release();
      }),
    );
    await Promise.all(sems.map((s) => s.close()));
    await Promise.all(clients.slice(1).map((c) => c.quit()));
    expect(peak).toBe(3);
    expect(await new TaskSemaphore(redis, p).holders('vc1')).toBe(0);
  });

  it('takes back the slot of a holder that died (lease expired) and keeps vCenters apart', async () => {
    const p = prefix('sem2');
    // A holder from a killed process: its lease is in Redis, nobody renews it.
    await redis.zadd(`${p}:tasks:vc1`, Date.now() + 300, 'dead-holder');
    const sem = new TaskSemaphore(redis, p, { pollMs: 20 });
    const other = await sem.acquire('vc2', 1); // another vCenter's slot is separate
    const lease = await sem.acquire('vc1', 1);
    expect(await redis.zscore(`${p}:tasks:vc1`, 'dead-holder')).toBeNull();
    await lease.release();
    await other.release();
    await sem.close();
  });
});

describe('VmLockManager (one worker per VM)', () => {
  it('refuses a second holder until the first releases, and only the holder can release', async () => {
    const p = prefix('vml');
    const a = new VmLockManager(redis, p, 1_000);
    const other = redis.duplicate();
    const b = new VmLockManager(other, p, 1_000);
    const first = await a.tryAcquire('vc1', 'vm-1');
    expect(first).not.toBeNull();
    expect(await b.tryAcquire('vc1', 'vm-1')).toBeNull();
    expect(await b.tryAcquire('vc1', 'vm-2')).not.toBeNull();
    await sleep(1_200); // renewed meanwhile: still held
    expect(await b.tryAcquire('vc1', 'vm-1')).toBeNull();
    await first!.release();
    const second = await b.tryAcquire('vc1', 'vm-1');
    expect(second).not.toBeNull();
    await first!.release(); // a stale holder's release does not free someone else's lock
    expect(await a.tryAcquire('vc1', 'vm-1')).toBeNull();
    await second!.release();
    await other.quit();
  });

  it('a lock of a dead holder expires; the holder that lost it sees held() false', async () => {
    const p = prefix('vml2');
    const m = new VmLockManager(redis, p, 300);
    const lock = await m.tryAcquire('vc1', 'vm-9');
    // Someone else took it over (as after an expiry): renewal notices.
    await redis.set(`${p}:vmlock:vc1:vm-9`, 'someone-else', 'PX', 5_000);
    await sleep(250);
    expect(lock!.held()).toBe(false);
    await redis.set(`${p}:vmlock:vc1:vm-9`, 'dead', 'PX', 200);
    expect(await m.tryAcquire('vc1', 'vm-9')).toBeNull();
    await sleep(300);
    const again = await m.tryAcquire('vc1', 'vm-9');
    expect(again).not.toBeNull();
    await again!.release();
    await lock!.release();
  });
});
