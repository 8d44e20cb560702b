import type { Redis } from 'ioredis';

/**
 * One Redis pub/sub connection shared by the parts of a process that listen
 * (the task semaphore's releases, the task completion feed): a subscribed
 * connection can do nothing else, so it is opened once, on first use, and
 * messages are handed to the handlers of their channel.
 */
export class RedisSubscriber {
  readonly #redis: Redis;
  #sub: Redis | undefined;
  readonly #handlers = new Map<string, Set<(message: string) => void>>();

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Calls `handler` with each message on `channel`; rejects (and forgets the handler) when Redis refuses the subscription. */
  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    let handlers = this.#handlers.get(channel);
    if (!handlers) this.#handlers.set(channel, (handlers = new Set()));
    handlers.add(handler);
    if (!this.#sub) {
      const sub = this.#redis.duplicate({ enableAutoPipelining: false });
      sub.on('error', () => undefined); // the main connection reports Redis health
      sub.on('message', (ch: string, message: string) => {
        for (const h of this.#handlers.get(ch) ?? []) h(message);
      });
      this.#sub = sub;
    }
    try {
      await this.#sub.subscribe(channel);
    } catch (err) {
      handlers.delete(handler);
      if (handlers.size === 0) this.#handlers.delete(channel);
      throw err;
    }
  }

  async close(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    this.#handlers.clear();
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
