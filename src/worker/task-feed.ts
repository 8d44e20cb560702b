import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { TaskCompletionFeed } from '../vsphere/task-waiter.ts';
import { errorMessage } from '../errors.ts';
import type { RedisSubscriber } from '../util/redis-subscriber.ts';

/** vCenter task ids as they appear in a Task MoRef (task-123, session[...]task-1). */
const TASK_ID = /^[A-Za-z0-9_.:[\]-]{1,128}$/;
const MAX_TASKS_PER_MESSAGE = 1000;

/**
 * Parses one feed message: {"from": "<process id>", "succeeded": ["task-1", ...]}.
 * Throws an Error naming what is wrong.
 */
export function parseTaskFeedMessage(raw: string): { from: string; succeeded: string[] } {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not a JSON object');
  const { from, succeeded } = msg as Record<string, unknown>;
  if (typeof from !== 'string' || from.length === 0 || from.length > 64) throw new Error('"from" must be a process id (a non-empty string of at most 64 characters)');
  if (!Array.isArray(succeeded)) throw new Error('"succeeded" must be an array of task ids');
  if (succeeded.length > MAX_TASKS_PER_MESSAGE) throw new Error(`"succeeded" lists ${succeeded.length} tasks (at most ${MAX_TASKS_PER_MESSAGE})`);
  for (const t of succeeded) if (typeof t !== 'string' || !TASK_ID.test(t)) throw new Error(`"succeeded" holds ${JSON.stringify(t)?.slice(0, 80)}, not a task id`);
  return { from, succeeded: succeeded as string[] };
}

/**
 * The worker processes of one deployment tell each other, over a Redis channel
 * per vCenter, which tasks they saw succeed (see TaskCompletionFeed). Each
 * process still watches tasks itself: a lost message only means the process
 * notices on its own, a little later.
 */
export class RedisTaskFeed implements TaskCompletionFeed {
  readonly #redis: Redis;
  readonly #subscriber: RedisSubscriber;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #id = randomUUID();
  #subscribed = false;
  #lastWarnAt = 0;

  /** `redis` publishes; `subscriber` is the process's shared pub/sub connection (closed by its owner). */
  constructor(redis: Redis, subscriber: RedisSubscriber, channel: string, logger: Logger) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#log = logger;
  }

  publish(tasks: string[]): void {
    this.#redis.publish(this.#channel, JSON.stringify({ from: this.#id, succeeded: tasks })).catch((err: unknown) => {
      this.#log.debug({ err: errorMessage(err) }, 'could not share task completions');
    });
  }

  subscribe(onSucceeded: (tasks: string[]) => void): void {
    if (this.#subscribed) throw new Error('RedisTaskFeed: already subscribed');
    this.#subscribed = true;
    const onMessage = (raw: string): void => {
      let msg: { from: string; succeeded: string[] };
      try {
        msg = parseTaskFeedMessage(raw);
      } catch (err) {
        // Bad input never settles a wait; say so at most once a minute.
        if (Date.now() - this.#lastWarnAt > 60_000) {
          this.#lastWarnAt = Date.now();
          this.#log.warn({ channel: this.#channel, err: errorMessage(err) }, 'ignored a malformed task completion message');
        }
        return;
      }
      if (msg.from !== this.#id && msg.succeeded.length > 0) onSucceeded(msg.succeeded);
    };
    this.#subscriber.subscribe(this.#channel, onMessage).catch((err: unknown) => {
      this.#log.warn({ channel: this.#channel, err: errorMessage(err) }, 'cannot subscribe to task completions; this process notices tasks on its own');
    });
  }
}
