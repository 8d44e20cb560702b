import { Redis } from 'ioredis';
import amqp from 'amqplib';
import { redactUrl } from '../../src/log.ts';

/**
 * Reachability of the shared Redis and RabbitMQ before anything is started,
 * and clean-up of what one run left in them (its own prefix and exchange only;
 * the shared services are never flushed).
 */

export class ServiceUnavailableError extends Error {
  override name = 'ServiceUnavailableError';
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Redis connection that fails fast instead of retrying forever. */
export function connectRedis(url: string): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: false });
}

export async function checkRedis(url: string): Promise<void> {
  const redis = connectRedis(url);
  // The socket error (ECONNREFUSED, ...) says more than the rejected connect ("Connection is closed").
  let socketError: string | undefined;
  redis.on('error', (err: Error) => (socketError ??= err.message));
  try {
    await withTimeout(redis.connect(), 4000, 'Redis');
    await withTimeout(redis.ping(), 3000, 'Redis');
  } catch (err) {
    throw new ServiceUnavailableError(`Redis at ${redactUrl(url)} is not reachable (${socketError ?? (err as Error).message}); start it or pass --redis URL`);
  } finally {
    redis.disconnect();
  }
}

export async function checkRabbit(url: string): Promise<void> {
  try {
    const conn = await withTimeout(amqp.connect(url), 5000, 'RabbitMQ');
    await conn.close();
  } catch (err) {
    throw new ServiceUnavailableError(`RabbitMQ at ${redactUrl(url)} is not reachable (${(err as Error).message}); start it or pass --amqp URL`);
  }
}

/** Deletes every key under the run's own prefix (SCAN, never FLUSH). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = connectRedis(url);
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Deletes the run's own exchange and any queue named after it. */
export async function deleteExchange(url: string, exchange: string): Promise<void> {
  const conn = await withTimeout(amqp.connect(url), 5000, 'RabbitMQ');
  try {
    const ch = await conn.createChannel();
    await ch.deleteExchange(exchange);
    await ch.close();
  } finally {
    await conn.close();
  }
}
