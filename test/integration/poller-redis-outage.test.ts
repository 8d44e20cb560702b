import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/services.ts';
import { startSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { scenarioSchema } from '../../src/simulator/scenario-schema.ts';
import { startPoller } from '../../src/poller/index.ts';
import { configSchema } from '../../src/config/schema.ts';
import { HealthRegistry } from '../../src/ops/health.ts';

/**
 * Redis goes away and comes back EMPTY (a private redis-server on a free
 * port, no persistence): the poller does not crash, and reconciliation
 * re-creates the incident and job of the VM that is still locked.
 */
const logger = pino({ level: process.env.POLLER_TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function privateRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch {
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('private redis-server did not start');
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, state: () => unknown, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; poller status: ${JSON.stringify(state())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('poller and a Redis outage', () => {
  it('survives Redis going away and heals an emptied Redis by reconciliation', async () => {
    const scenario = scenarioSchema.parse({
      name: 'redis-outage',
      kms: [{ id: 'kms1', default: true }],
      keys: { k0: 'active', k1: 'active' },
      hosts: [{ name: 'esx1' }],
      vms: [
        { name: 'vm-a', host: 'esx1', key: 'k0', disks: [{ at: 'scsi0:0', key: 'k0' }] },
        { name: 'vm-b', host: 'esx1', key: 'k1', disks: [{ at: 'scsi0:0', key: 'k1' }] },
      ],
    });
    const sim = await startSimulator({ scenario, port: 0, logger });
    cleanups.push(() => sim.stop());
    const ctl = new SimControl(sim.controlUrl);
    const port = await freePort();
    let redisServer = await privateRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const config = configSchema.parse({
      vcenters: [{ name: 'sim', url: sim.url, user: sim.user, password: sim.password }],
      redis: { url, prefix: 'vmlock' },
      poller: { waitMax: '2s', leaseTtl: '1s', reconcileInterval: '1s' },
      http: { enabled: false },
    });
    const p = await startPoller({ config, logger, health: new HealthRegistry() });
    cleanups.push(() => p.stop());
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    const status = () => p.status();
    await until('the first job', async () => (await p.queue.getJob(`sim.${a.moref}.1`)) !== undefined, status);

    redisServer.kill('SIGKILL');
    await new Promise((r) => redisServer.once('exit', r));
    await until('the poller to stop polling without its lease', async () => p.status().vcenters[0]?.leased === false, status);
    redisServer = await privateRedis(port);

    // Empty Redis: the still-locked VM gets its incident and job back, and a new lock is detected.
    const b = await ctl.vm('vm-b');
    await ctl.lock([b.moref]);
    await until('the jobs back in the emptied Redis', async () => {
      const ids = (await p.queue.getJobs(['waiting'])).map((j) => j.id).sort();
      return ids.length === 2 && ids;
    }, status);
    expect((await p.queue.getJobs(['waiting'])).map((j) => j.id).sort()).toEqual([`sim.${a.moref}.1`, `sim.${b.moref}.1`].sort());
  }, 120_000);
});
