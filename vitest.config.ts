import { defineConfig } from 'vitest/config';

// Tests talk to the real Redis, RabbitMQ and the simulator over HTTP; each test
// isolates itself with a unique key prefix / exchange / port, so files may run
// in parallel. Two cores: keep the pool small.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
