import { randomUUID } from 'node:crypto';

/** The shared services CI starts (never stopped by tests). */
export const REDIS_URL = process.env.VMLOCK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.VMLOCK_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A Redis key prefix / exchange suffix unique to one test, so test files can run in parallel. */
export function uniquePrefix(name = 't'): string {
  return `vmlock-test-${name}-${randomUUID().slice(0, 8)}`;
}

/** A TCP port that was free a moment ago (for private service instances and proxies). */
export { freePortOnLoopback as freePort } from '../../src/demo/ports.ts';
