import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { SIM_PASSWORD_ENV, writeVmlockConfig } from '../../bench/lib/vmlock-config.ts';
import { exponentialGap, pickDistinct, seededRandom } from '../../bench/lib/schedule.ts';

const dir = mkdtempSync(join(tmpdir(), 'vmlock-bench-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the configuration the bench gives vmlock', () => {
  const params = {
    simUrl: 'http://127.0.0.1:40123/sdk',
    simUser: 'administrator@vsphere.local',
    redisUrl: 'redis://127.0.0.1:6379',
    redisPrefix: 'vmlock-bench-abc-storm',
    amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
    exchange: 'vmlock-bench-abc.storm',
    maxConcurrentTasks: 16,
    workerConcurrency: 16,
    reconcileInterval: '1h',
  };

  it('is a valid vmlock config with C, the prefix and a reconcile interval beyond the idle window', () => {
    const file = writeVmlockConfig(dir, 'storm', params);
    const config = loadConfig({ file, env: { [SIM_PASSWORD_ENV]: 'secret' } });
    expect(config.policy.maxConcurrentTasksPerVcenter).toBe(16);
    expect(config.worker.concurrency).toBe(16);
    expect(config.redis.prefix).toBe('vmlock-bench-abc-storm');
    expect(config.rabbitmq.exchange).toBe('vmlock-bench-abc.storm');
    expect(config.poller.reconcileInterval).toBe(3_600_000);
    expect(config.http.enabled).toBe(false);
    expect(config.vcenters).toHaveLength(1);
    expect(config.vcenters[0]?.passwordEnv).toBe(SIM_PASSWORD_ENV);
  });

  it('never writes the simulator password, and is readable by its owner only', () => {
    const file = writeVmlockConfig(dir, 'inventory', params);
    expect(readFileSync(file, 'utf8')).not.toMatch(/password:/);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('asks for TLS without verification only for an https simulator', () => {
    const file = writeVmlockConfig(dir, 'tls', { ...params, simUrl: 'https://127.0.0.1:40123/sdk' });
    const config = loadConfig({ file, env: { [SIM_PASSWORD_ENV]: 'secret' } });
    expect(config.vcenters[0]?.tls.insecure).toBe(true);
  });
});

describe('the lock schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const sa = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(sa);
    expect(Array.from({ length: 5 }, c)).not.toEqual(sa);
    for (const x of sa) expect(x >= 0 && x < 1).toBe(true);
  });

  it('picks distinct VMs', () => {
    const items = Array.from({ length: 50 }, (_, i) => `vm-${i}`);
    const picked = pickDistinct(items, 20, seededRandom(1));
    expect(new Set(picked).size).toBe(20);
    for (const p of picked) expect(items).toContain(p);
    expect(pickDistinct(items, 80, seededRandom(1))).toHaveLength(50);
  });

  it('draws gaps with the requested mean', () => {
    const rand = seededRandom(7);
    const gaps = Array.from({ length: 20_000 }, () => exponentialGap(rand, 300));
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    expect(mean).toBeGreaterThan(285);
    expect(mean).toBeLessThan(315);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
  });
});
