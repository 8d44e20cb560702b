import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface VmLock {
  readonly token: string;
  /** False once the lock was lost (renewal found another holder or none): stop mutating. */
  held(): boolean;
  release(): Promise<void>;
}

/**
 * One holder per VM across all workers (SET NX PX + token, renewed). A BullMQ
 * job that stalls while its worker still runs can be handed to a second worker;
 * this lock keeps the two from running a mutating step at the same time.
 */
export class VmLockManager {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 30_000,
  ) {}

  key(vcenter: string, moref: string): string {
    return `${this.prefix}:vmlock:${vcenter}:${moref}`;
  }

  /** The lock, or null when another worker holds it. */
  async tryAcquire(vcenter: string, moref: string): Promise<VmLock | null> {
    const key = this.key(vcenter, moref);
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    let held = true;
    const timer = setInterval(() => {
      this.redis.eval(RENEW, 1, key, token, String(this.ttlMs)).then(
        (r) => {
          if (r !== 1) held = false;
        },
        () => undefined,
      );
    }, Math.max(50, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return {
      token,
      held: () => held,
      release: async () => {
        clearInterval(timer);
        held = false;
        await this.redis.eval(RELEASE, 1, key, token);
      },
    };
  }
}
