import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisSubscriber } from '../../src/util/redis-subscriber.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

const redis = new Redis(REDIS_URL);
afterAll(() => redis.disconnect());

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('RedisSubscriber', () => {
  it('hands each message to the handlers of its channel only, and stops after close', async () => {
    const p = uniquePrefix('sub');
    const sub = new RedisSubscriber(redis);
    const got: string[] = [];
    await sub.subscribe(`${p}:a`, (m) => got.push(`a1:${m}`));
    await sub.subscribe(`${p}:a`, (m) => got.push(`a2:${m}`));
    await sub.subscribe(`${p}:b`, (m) => got.push(`b:${m}`));
    await redis.publish(`${p}:a`, 'x');
    await redis.publish(`${p}:b`, 'y');
    await redis.publish(`${p}:other`, 'z');
    await until(() => got.length >= 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(got.sort()).toEqual(['a1:x', 'a2:x', 'b:y']);
    await sub.close();
    await redis.publish(`${p}:a`, 'after');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(3);
  });
});
