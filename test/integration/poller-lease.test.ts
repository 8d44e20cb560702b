import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { VcenterLease, type HeldLease } from '../../src/poller/lease.ts';

const logger = pino({ level: 'silent' });
let redis: Redis;
const held: HeldLease[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterEach(async () => {
  for (const l of held.splice(0)) await l.release();
});
afterAll(async () => {
  await redis.quit();
});

function lease(prefix: string, ttlMs = 600): VcenterLease {
  return new VcenterLease({ redis, prefix, vcenter: 'vc1', ttlMs, logger });
}

describe('vCenter lease', () => {
  it('is held by one replica at a time, with fencing tokens that only grow', async () => {
    const prefix = uniquePrefix('lease');
    const a = await lease(prefix).tryAcquire();
    const b = await lease(prefix).tryAcquire();
    expect(a.lease).toBeDefined();
    expect(b.lease).toBeUndefined();
    expect(b.retryInMs).toBeGreaterThan(0);
    held.push(a.lease!);
    expect(await a.lease!.stillHeld()).toBe(true);
    await a.lease!.release();
    expect(a.lease!.signal.aborted).toBe(true);
    const c = await lease(prefix).tryAcquire();
    expect(c.lease).toBeDefined();
    held.push(c.lease!);
    expect(c.lease!.fencingToken).toBeGreaterThan(a.lease!.fencingToken);
    await redis.del(`${prefix}:poller:lease:vc1`, `${prefix}:poller:fence:vc1`);
  });

  it('is kept alive by renewals well past its ttl', async () => {
    const prefix = uniquePrefix('lease');
    const { lease: l } = await lease(prefix, 1000).tryAcquire();
    held.push(l!);
    await new Promise((r) => setTimeout(r, 2500));
    expect(l!.signal.aborted).toBe(false);
    expect(await l!.stillHeld()).toBe(true);
    expect((await lease(prefix, 1000).tryAcquire()).lease).toBeUndefined();
    await l!.release();
    await redis.del(`${prefix}:poller:fence:vc1`);
  });

  it('aborts the holder at once when another owner took the key (renewal finds a different value)', async () => {
    const prefix = uniquePrefix('lease');
    const { lease: l } = await lease(prefix, 300).tryAcquire();
    held.push(l!);
    await redis.set(`${prefix}:poller:lease:vc1`, 'someone-else:999', 'PX', 5000);
    const lost = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 2000);
      l!.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    expect(lost).toBe(true);
    expect(await l!.stillHeld()).toBe(false);
    // Its release must not delete the other owner's lease.
    await l!.release();
    expect(await redis.get(`${prefix}:poller:lease:vc1`)).toBe('someone-else:999');
    await redis.del(`${prefix}:poller:lease:vc1`, `${prefix}:poller:fence:vc1`);
  });

  it('lets a waiting replica take over when the holder stops renewing (killed)', async () => {
    const prefix = uniquePrefix('lease');
    // A holder that dies: the key is set by hand and never renewed.
    await redis.set(`${prefix}:poller:lease:vc1`, 'dead-owner:1', 'PX', 400);
    const stop = new AbortController();
    const got = await lease(prefix, 400).acquire(stop.signal);
    expect(got).toBeDefined();
    held.push(got!);
    expect(await redis.get(`${prefix}:poller:lease:vc1`)).toMatch(new RegExp(`^[0-9a-f]{32}:${got!.fencingToken}$`));
    expect(await got!.stillHeld()).toBe(true);
    await got!.release();
    await redis.del(`${prefix}:poller:fence:vc1`);
  });

  it('acquire returns undefined when stopped while waiting', async () => {
    const prefix = uniquePrefix('lease');
    await redis.set(`${prefix}:poller:lease:vc1`, 'other:1', 'PX', 10_000);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    expect(await lease(prefix, 10_000).acquire(stop.signal)).toBeUndefined();
    await redis.del(`${prefix}:poller:lease:vc1`, `${prefix}:poller:fence:vc1`);
  });
});
