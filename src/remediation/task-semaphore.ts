import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisSubscriber } from '../util/redis-subscriber.ts';

/**
 * Acquires a slot if fewer than `limit` unexpired holders exist. Holders are a
 * sorted set of tokens scored by lease expiry (Redis server time, so clocks of
 * worker machines do not matter); expired holders (a killed worker) are removed
 * first. Re-acquiring a held token renews it.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return 1
end
return 0
`;

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
`;

export interface Lease {
  readonly token: string;
  release(): Promise<void>;
}

export interface TaskSemaphoreOptions {
  /** Lease length; renewed every third of it while held. */
  leaseMs?: number;
  /**
   * Longest pause between acquire attempts (jittered). Waiters are woken at once
   * by a release (Redis pub/sub); the pause only covers expired leases of dead
   * holders and lost messages.
   */
  pollMs?: number;
  /** The process's shared pub/sub connection; without one the semaphore opens (and closes) its own. */
  subscriber?: RedisSubscriber;
}

/**
 * A counting semaphore per vCenter across every worker process: at most
 * policy.maxConcurrentTasksPerVcenter mutating vCenter tasks run at once. Held
 * from the task's start to its end; a lease of a killed process expires.
 * Within a process waiters queue up and only the first asks Redis, so a
 * release costs one attempt per process rather than one per waiter.
 */
export class TaskSemaphore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #subscriber: RedisSubscriber;
  readonly #ownsSubscriber: boolean;
  readonly #subscribed = new Set<string>();
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Releases seen per channel (message or local), so a release between a failed attempt and the wait is not missed. */
  readonly #releases = new Map<string, number>();
  /** Tail of each key's local queue: one waiter per process asks Redis at a time (no herd of attempts per release). */
  readonly #queueTails = new Map<string, Promise<void>>();

  constructor(redis: Redis, prefix: string, opts: TaskSemaphoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#leaseMs = opts.leaseMs ?? 30_000;
    this.#pollMs = opts.pollMs ?? 250;
    this.#ownsSubscriber = opts.subscriber === undefined;
    this.#subscriber = opts.subscriber ?? new RedisSubscriber(redis);
  }

  key(vcenter: string): string {
    return `${this.#prefix}:tasks:${vcenter}`;
  }

  async acquire(vcenter: string, limit: number, signal?: AbortSignal): Promise<Lease> {
    const key = this.key(vcenter);
    const channel = `${key}:released`;
    const token = randomUUID();
    const leaveQueue = await this.#joinQueue(key);
    try {
      for (;;) {
        signal?.throwIfAborted();
        const seen = this.#releases.get(channel) ?? 0;
        const ok = (await this.#redis.eval(ACQUIRE, 1, key, token, String(limit), String(this.#leaseMs))) as number;
        if (ok === 1) break;
        await this.#subscribe(channel);
        if ((this.#releases.get(channel) ?? 0) !== seen) continue;
        await this.#waitForRelease(channel, this.#pollMs / 2 + Math.random() * this.#pollMs);
      }
    } finally {
      leaveQueue();
    }
    const timer = setInterval(() => {
      this.#redis.eval(RENEW, 1, key, token, String(this.#leaseMs)).catch(() => undefined);
    }, Math.max(50, Math.floor(this.#leaseMs / 3)));
    timer.unref();
    return {
      token,
      release: async () => {
        clearInterval(timer);
        const removed = this.#redis.multi().zrem(key, token).publish(channel, token).exec();
        // This process's next waiter goes at once, without waiting for the reply or
        // the message: one connection runs commands in order, so its attempt comes
        // after the ZREM (were it refused, the published release wakes it again).
        this.#released(channel);
        await removed;
      },
    };
  }

  /** Waits for this process's earlier waiters on the key; the returned function lets the next one go. */
  async #joinQueue(key: string): Promise<() => void> {
    const before = this.#queueTails.get(key) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const tail = before.then(() => mine);
    this.#queueTails.set(key, tail);
    await before;
    return () => {
      if (this.#queueTails.get(key) === tail) this.#queueTails.delete(key);
      leave();
    };
  }

  #released(channel: string): void {
    this.#releases.set(channel, (this.#releases.get(channel) ?? 0) + 1);
    const set = this.#waiters.get(channel);
    if (!set) return;
    this.#waiters.delete(channel);
    for (const wake of set) wake();
  }

  async #subscribe(channel: string): Promise<void> {
    if (this.#subscribed.has(channel)) return;
    this.#subscribed.add(channel);
    try {
      await this.#subscriber.subscribe(channel, () => this.#released(channel));
    } catch {
      this.#subscribed.delete(channel); // polling still works
    }
  }

  #waitForRelease(channel: string, maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiters.get(channel);
      if (!set) this.#waiters.set(channel, (set = new Set()));
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.get(channel)?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxMs);
      set.add(wake);
    });
  }

  /** Holders with unexpired leases right now. */
  async holders(vcenter: string): Promise<number> {
    const t = await this.#redis.time();
    const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
    return this.#redis.zcount(this.key(vcenter), now, '+inf');
  }

  /** Closes the release subscription when it is the semaphore's own (a shared subscriber and the Redis connection stay the caller's). */
  async close(): Promise<void> {
    this.#subscribed.clear();
    if (this.#ownsSubscriber) await this.#subscriber.close();
  }
}
