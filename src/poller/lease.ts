import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { sleep } from './backoff.ts';

/**
 * One Redis lease per vCenter so exactly one poller replica polls it.
 *
 *   <prefix>:poller:lease:<vcenter>  value "<owner token>:<fencing token>", PX ttl
 *   <prefix>:poller:fence:<vcenter>  INCR counter behind the fencing tokens
 *
 * Acquire = INCR for a fencing token that only grows, then SET NX PX with the
 * value "<random owner token>:<fencing token>". Renew every ttl/3 with a Lua
 * compare-and-extend; a renewal that finds another value, or no confirmed
 * renewal for most of the ttl (Redis unreachable), means the lease is lost: the
 * holder's `signal` aborts at once and it stops polling that vCenter. Before
 * every incident write the poller calls `stillHeld`: true only while the last
 * confirmed renewal is younger than 2/3 ttl (else it re-reads the exact value
 * in Redis), so a replica paused past its ttl cannot add jobs with a stale
 * fencing token.
 */
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
export interface HeldLease {
  readonly fencingToken: number;
  /** Aborts when the lease is lost or released. */
  readonly signal: AbortSignal;
  /** Checks in Redis that this exact lease is still ours. */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

export interface LeaseOptions {
  redis: Redis;
  prefix: string;
  vcenter: string;
  ttlMs: number;
  logger: Logger;
}

export class VcenterLease {
  readonly #o: LeaseOptions;
  readonly leaseKey: string;
  readonly fenceKey: string;

  constructor(o: LeaseOptions) {
    this.#o = o;
    this.leaseKey = `${o.prefix}:poller:lease:${o.vcenter}`;
    this.fenceKey = `${o.prefix}:poller:fence:${o.vcenter}`;
  }

  /** One attempt: the held lease, or undefined with the ms until the current one expires. */
  async tryAcquire(): Promise<{ lease?: HeldLease; retryInMs: number }> {
    const { redis, ttlMs } = this.#o;
    // The fencing token is taken first so the value is written in one SET NX;
    // a failed attempt only skips a number (tokens still only grow).
    const fence = await redis.incr(this.fenceKey);
    const value = `${randomBytes(16).toString('hex')}:${fence}`;
    const ok = await redis.set(this.leaseKey, value, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') {
      const pttl = await redis.pttl(this.leaseKey);
      return { retryInMs: pttl > 0 ? Math.min(pttl + 20, ttlMs) : 50 };
    }
    return { lease: this.#hold(value, fence), retryInMs: 0 };
  }

  /**
   * Waits until the lease is ours (checking again when the other holder's
   * lease would expire) or `stop` aborts (then undefined). Redis errors are
   * logged and retried.
   */
  async acquire(stop: AbortSignal, onWaiting?: (why: string, healthy: boolean) => void): Promise<HeldLease | undefined> {
    while (!stop.aborted) {
      try {
        const { lease, retryInMs } = await this.tryAcquire();
        if (lease) return lease;
        onWaiting?.('leased by another replica', true);
        await sleep(Math.max(20, Math.min(retryInMs, this.#o.ttlMs / 3)), stop);
      } catch (err) {
        this.#o.logger.warn({ vcenter: this.#o.vcenter, err: errorMessage(err) }, 'lease: Redis error while acquiring; retrying');
        onWaiting?.(`Redis error: ${errorMessage(err)}`, false);
        await sleep(Math.min(1000, this.#o.ttlMs / 3), stop);
      }
    }
    return undefined;
  }

  #hold(value: string, fencingToken: number): HeldLease {
    const { redis, ttlMs, logger, vcenter } = this.#o;
    const ctl = new AbortController();
    let confirmedAt = Date.now();
    const lose = (why: string): void => {
      if (ctl.signal.aborted) return;
      clearInterval(timer);
      logger.warn({ vcenter, fencingToken, why }, 'lease lost: stopping polling of this vCenter');
      ctl.abort(new Error(`lease lost: ${why}`));
    };
    const renew = async (): Promise<void> => {
      const startedAt = Date.now();
      try {
        const r = await redis.eval(EXTEND, 1, this.leaseKey, value, String(ttlMs));
        if (ctl.signal.aborted) return;
        if (r === 1) confirmedAt = startedAt;
        else lose('another replica holds it (or it expired)');
      } catch (err) {
        // Unconfirmed: give up before the ttl could have run out elsewhere.
        if (Date.now() - confirmedAt > (ttlMs * 2) / 3) lose(`cannot renew: ${errorMessage(err)}`);
      }
    };
    const timer = setInterval(() => void renew(), Math.max(10, Math.floor(ttlMs / 3)));
    timer.unref();
    return {
      fencingToken,
      signal: ctl.signal,
      stillHeld: async () => {
        if (ctl.signal.aborted) return false;
        // A renewal confirmed at T (measured from before the call) keeps the key
        // ours until T + ttl; nobody else can hold it before then. Trusting that
        // for 2/3 of the ttl (a third left for clock drift) costs no Redis round
        // trip per signal, which matters in a storm.
        if (Date.now() - confirmedAt < (ttlMs * 2) / 3) return true;
        const held = (await redis.get(this.leaseKey)) === value;
        if (!held) lose('value changed or expired');
        else confirmedAt = Date.now();
        return held;
      },
      release: async () => {
        clearInterval(timer);
        if (!ctl.signal.aborted) ctl.abort(new Error('lease released'));
        try {
          await redis.eval(RELEASE, 1, this.leaseKey, value);
        } catch (err) {
          logger.warn({ vcenter, err: errorMessage(err) }, 'lease: could not release (it expires by itself)');
        }
      },
    };
  }
}
