import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { REDIS_URL, freePort, uniquePrefix } from '../helpers/services.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import type { ScenarioFile } from '../../src/simulator/scenario-schema.ts';
import { startPoller, type RunningPoller } from '../../src/poller/index.ts';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { IncidentStore } from '../../src/incidents/store.ts';
import { HealthRegistry } from '../../src/ops/health.ts';
import { detectionLatency, incidentsOpened, soapCalls } from '../../src/ops/metrics.ts';
import { createClientFromConfig } from '../../src/vsphere/client.ts';

/**
 * The poller against the simulator over real HTTP and real Redis. Each test
 * has its own simulator (port 0) and Redis prefix.
 */
const logger = pino({ level: process.env.POLLER_TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Five encrypted VMs on one host: nothing locked at start. */
export function scenario(extra: Partial<ScenarioFile> = {}): ScenarioFile {
  const vms = ['a', 'b', 'c', 'd', 'e'].map((n, i) => ({ name: `vm-${n}`, host: 'esx1', key: `k${i}`, disks: [{ at: 'scsi0:0', key: `k${i}` }] }));
  return {
    name: 'poller-test',
    kms: [{ id: 'kms1', default: true }],
    keys: Object.fromEntries(vms.map((v) => [v.key, 'active'])),
    hosts: [{ name: 'esx1' }],
    vms,
    ...extra,
  } as ScenarioFile;
}

async function sim(s: ScenarioFile = scenario(), apiVersion: '8.0.3' | '6.5' = '8.0.3'): Promise<{ sim: RunningSimulator; ctl: SimControl }> {
  const running = await startSimulator({ scenario: s, port: 0, logger, apiVersion });
  cleanups.push(() => running.stop());
  return { sim: running, ctl: new SimControl(running.controlUrl) };
}

function pollerConfig(s: RunningSimulator, prefix: string, poller: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    vcenters: [{ name: 'sim', url: s.url, user: s.user, password: s.password }],
    redis: { url: REDIS_URL, prefix },
    poller: { waitMax: '2s', leaseTtl: '1s', ...poller },
    http: { enabled: false },
  });
}

async function poller(config: Config, health = new HealthRegistry()): Promise<RunningPoller> {
  const p = await startPoller({ config, logger, health });
  cleanups.push(() => p.stop());
  return p;
}

async function redisFor(prefix: string): Promise<Redis> {
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
  return redis;
}

/** Polls `check` until it returns a truthy value (tests assert on states, never on speed). */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function jobIds(p: RunningPoller): Promise<string[]> {
  const jobs = await p.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  return jobs.map((j) => j.id ?? '').sort();
}

async function watching(p: RunningPoller): Promise<void> {
  await until('the poller to watch', async () => p.status().vcenters[0]?.state === 'watching');
}

describe('poller against the simulator', () => {
  it('turns a lock into one job, and more signals for that VM into no more jobs', async () => {
    const base = scenario();
    const { sim: s, ctl } = await sim({ ...base, vms: base.vms.map((v) => ({ ...v, powerState: 'poweredOff' })) } as ScenarioFile);
    const prefix = uniquePrefix('poller');
    const redis = await redisFor(prefix);
    const p = await poller(pollerConfig(s, prefix));
    await watching(p);
    expect(await jobIds(p)).toEqual([]);
    const vm = await ctl.vm('vm-a');
    await ctl.lock([vm.moref]);
    await until('a job for the lock', async () => (await jobIds(p)).length === 1);
    expect(await jobIds(p)).toEqual([`sim.${vm.moref}.1`]);
    const job = await p.queue.getJob(`sim.${vm.moref}.1`);
    expect(job?.data).toMatchObject({ incidentId: `sim.${vm.moref}.1`, vcenter: 'sim', vm: { moref: vm.moref, name: 'vm-a' } });

    // More signals for the same VM: power-on attempts (events), another lock, a full re-read.
    const store = new IncidentStore(redis, prefix);
    const before = (await store.require(`sim.${vm.moref}.1`)).signals;
    for (let i = 0; i < 4; i++) await ctl.powerOnAttempt(vm.moref);
    await ctl.lock([vm.moref]);
    await until('the extra signals to join the incident', async () => (await store.require(`sim.${vm.moref}.1`)).signals >= before + 4);
    expect(await jobIds(p)).toEqual([`sim.${vm.moref}.1`]);
    expect(await store.list()).toHaveLength(1);
  });

  it('finds every lock that happened before it started, the disk-key power-on failure and the stale alarm', async () => {
    const base = scenario();
    const s0 = scenario({
      keys: { ...base.keys, kd: 'active' },
      vms: [
        ...base.vms,
        // Disk-key case: home key fine (not locked), a data disk's key gone, a power-on failed.
        { name: 'vm-disk', host: 'esx1', key: 'k0', powerState: 'poweredOff', disks: [{ at: 'scsi0:0', key: 'k0' }, { at: 'scsi0:1', key: 'kd' }], missingOnHost: ['disk:1'], powerOnAttempt: true },
        { name: 'vm-stale', host: 'esx1', key: 'k1', staleAlarm: true, disks: [{ at: 'scsi0:0', key: 'k1' }] },
      ] as ScenarioFile['vms'],
    });
    const { sim: s, ctl } = await sim(s0);
    const locked = await Promise.all(['vm-a', 'vm-c', 'vm-e'].map((n) => ctl.vm(n)));
    await ctl.lock(locked.map((v) => v.moref));
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const p = await poller(pollerConfig(s, prefix));
    const disk = await ctl.vm('vm-disk');
    const stale = await ctl.vm('vm-stale');
    const expected = [...locked, disk, stale].map((v) => `sim.${v.moref}.1`).sort();
    await until('jobs for all of them', async () => (await jobIds(p)).length >= expected.length);
    expect(await jobIds(p)).toEqual(expected);
  });

  it('misses nothing and duplicates nothing across a stop without cleanup and a restart', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    const redis = await redisFor(prefix);
    const config = pollerConfig(s, prefix);
    const first = await startPoller({ config, logger, health: new HealthRegistry() });
    await watching(first);
    const [a, b, c] = await Promise.all(['vm-a', 'vm-b', 'vm-c'].map((n) => ctl.vm(n)));
    await ctl.lock([a!.moref]);
    await until('the first job', async () => (await jobIds(first)).length === 1);
    // "Kill": the process goes away without releasing anything (lease left to expire).
    const leaseKey = `${prefix}:poller:lease:sim`;
    const leaseValue = await redis.get(leaseKey);
    await first.stop();
    if (leaseValue) await redis.set(leaseKey, leaseValue, 'PX', 1000);
    // Locks while no poller runs.
    await ctl.lock([b!.moref, c!.moref]);
    const second = await poller(config);
    const expected = [a, b, c].map((v) => `sim.${v!.moref}.1`).sort();
    await until('jobs for the locks made while down', async () => (await jobIds(second)).length >= 3);
    await watching(second);
    await ctl.powerOnAttempt(a!.moref);
    const store = new IncidentStore(redis, prefix);
    expect(await jobIds(second)).toEqual(expected);
    expect((await store.list()).map((i) => i.id).sort()).toEqual(expected);
  });

  it('lets exactly one of two replicas poll the vCenter, and the other take over when it stops', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const config = pollerConfig(s, prefix);
    const r1 = await startPoller({ config, logger, health: new HealthRegistry(), replicaId: 'r1' });
    const r2 = await poller(config);
    cleanups.push(() => r1.stop());
    const holder = await until('one replica to hold the lease', async () => {
      const leased = [r1, r2].filter((r) => r.status().vcenters[0]?.leased);
      return leased.length === 1 ? leased[0] : undefined;
    });
    const other = holder === r1 ? r2 : r1;
    // Sampled while both run: never both.
    for (let i = 0; i < 10; i++) {
      expect([r1, r2].filter((r) => r.status().vcenters[0]?.leased)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(other.status().vcenters[0]?.state).toMatch(/^standby/);
    await watching(holder);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the job', async () => (await jobIds(holder)).length === 1);
    const firstToken = holder.status().vcenters[0]?.fencingToken ?? 0;
    await holder.stop();
    await until('the other replica to take over', async () => other.status().vcenters[0]?.state === 'watching');
    expect(other.status().vcenters[0]?.fencingToken).toBeGreaterThan(firstToken);
    const b = await ctl.vm('vm-b');
    await ctl.lock([b.moref]);
    await until('the job from the new holder', async () => (await jobIds(other)).length === 2);
    expect(await jobIds(other)).toEqual([`sim.${a.moref}.1`, `sim.${b.moref}.1`].sort());
  });

  it('survives expired sessions and a simulator restart: a lock after each is still detected', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const health = new HealthRegistry();
    const p = await poller(pollerConfig(s, prefix), health);
    await watching(p);
    const [a, b, c] = await Promise.all(['vm-a', 'vm-b', 'vm-c'].map((n) => ctl.vm(n)));

    await ctl.expireSessions();
    await ctl.lock([a!.moref]);
    await until('the lock after session expiry', async () => (await jobIds(p)).includes(`sim.${a!.moref}.1`));

    await ctl.restart();
    await ctl.lock([b!.moref]);
    await until('the lock after a restart', async () => (await jobIds(p)).includes(`sim.${b!.moref}.1`));
    await watching(p);
    await ctl.lock([c!.moref]);
    await until('a lock once watching again', async () => (await jobIds(p)).includes(`sim.${c!.moref}.1`));
    expect(await jobIds(p)).toEqual([a, b, c].map((v) => `sim.${v!.moref}.1`).sort());
    expect(health.snapshot()['vcenter:sim']).toMatchObject({ ok: true, state: 'watching' });
  });

  it('on a 6.5 vCenter (no runtime.cryptoState) counts keyId + connectionState invalid as locked', async () => {
    const { sim: s, ctl } = await sim(scenario(), '6.5');
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const p = await poller(pollerConfig(s, prefix));
    await watching(p);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the job', async () => (await jobIds(p)).length === 1);
    const job = await p.queue.getJob(`sim.${a.moref}.1`);
    expect(job?.data.signal.kind).toBe('connectionState');
  });

  it('re-adds the job of an open incident at the next reconciliation when the queue was emptied', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const p = await poller(pollerConfig(s, prefix, { reconcileInterval: '1s' }));
    await watching(p);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the job', async () => (await jobIds(p)).length === 1);
    await p.queue.obliterate({ force: true });
    expect(await jobIds(p)).toEqual([]);
    await until('the job to be back', async () => (await jobIds(p)).length === 1);
    expect(await jobIds(p)).toEqual([`sim.${a.moref}.1`]);
  });

  it('stays within the idle budget: only WaitForUpdatesEx while nothing happens, no event polling', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const p = await poller(pollerConfig(s, prefix, { waitMax: '1s' }));
    await watching(p);
    await new Promise((r) => setTimeout(r, 500));
    const before = await ctl.stats();
    await new Promise((r) => setTimeout(r, 4000));
    const after = await ctl.stats();
    const delta = (m: string) => (after.calls[m] ?? 0) - (before.calls[m] ?? 0);
    const others = Object.keys(after.calls).filter((m) => m !== 'WaitForUpdatesEx' && delta(m) > 0);
    expect(others).toEqual([]);
    expect(delta('ReadNextEvents')).toBe(0);
    // One call per waitMax (1 s here, 60 s by default): 4 s idle → about 4, never a busy loop.
    expect(delta('WaitForUpdatesEx')).toBeLessThanOrEqual(6);
  });

  it('polls several vCenters, each with its own client, and names them in incident ids', async () => {
    const one = await sim();
    const two = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const config = configSchema.parse({
      vcenters: [
        { name: 'east', url: one.sim.url, user: one.sim.user, password: one.sim.password },
        { name: 'west', url: two.sim.url, user: two.sim.user, password: two.sim.password },
      ],
      redis: { url: REDIS_URL, prefix },
      poller: { waitMax: '2s', leaseTtl: '1s' },
      http: { enabled: false },
    });
    const p = await poller(config);
    await until('both watched', async () => p.status().vcenters.every((v) => v.state === 'watching'));
    const a = await one.ctl.vm('vm-a');
    const b = await two.ctl.vm('vm-b');
    await one.ctl.lock([a.moref]);
    await two.ctl.lock([b.moref]);
    await until('two jobs', async () => (await jobIds(p)).length === 2);
    expect(await jobIds(p)).toEqual([`east.${a.moref}.1`, `west.${b.moref}.1`].sort());
  });

  it('keeps retrying while the vCenter is down and detects a lock once it is back', async () => {
    const port = await freePort();
    const first = await startSimulator({ scenario: scenario(), port, logger });
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const health = new HealthRegistry();
    const p = await poller(pollerConfig(first, prefix), health);
    await watching(p);
    await first.stop();
    await until('the poller to notice', async () => health.snapshot()['vcenter:sim']?.state === 'reconnecting');
    expect(health.snapshot()['vcenter:sim']?.ok).toBe(false);
    const second = await startSimulator({ scenario: scenario(), port, logger });
    cleanups.push(() => second.stop());
    const ctl = new SimControl(second.controlUrl);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the lock on the vCenter that came back', async () => (await jobIds(p)).includes(`sim.${a.moref}.1`), 40_000);
    await until('watching again', async () => health.snapshot()['vcenter:sim']?.ok === true);
    expect(p.status().vcenters[0]?.lastError).toBeTruthy();
  }, 60_000);

  it('feeds the metrics: SOAP calls by method, incidents opened and detection latency', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    await redisFor(prefix);
    const name = `m${Date.now().toString(36)}`;
    const config = configSchema.parse({
      vcenters: [{ name, url: s.url, user: s.user, password: s.password }],
      redis: { url: REDIS_URL, prefix },
      poller: { waitMax: '2s', leaseTtl: '1s' },
      http: { enabled: false },
    });
    const p = await poller(config);
    await until('watching', async () => p.status().vcenters[0]?.state === 'watching');
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the job', async () => (await jobIds(p)).length === 1);
    const calls = (await soapCalls.get()).values.filter((v) => v.labels.vcenter === name);
    expect(calls.find((v) => v.labels.method === 'Login' && v.labels.fault === '')?.value).toBeGreaterThanOrEqual(1);
    expect(calls.find((v) => v.labels.method === 'WaitForUpdatesEx')?.value).toBeGreaterThanOrEqual(1);
    const opened = (await incidentsOpened.get()).values.filter((v) => v.labels.vcenter === name);
    expect(opened.reduce((n, v) => n + v.value, 0)).toBe(1);
    const latency = (await detectionLatency.get()).values.find((v) => v.labels.vcenter === name && (v as { metricName?: string }).metricName?.endsWith('_count'));
    expect(latency?.value).toBe(1);
  });

  it('opens a new incident (new id, new job) when the VM locks again after its incident closed', async () => {
    const { sim: s, ctl } = await sim();
    const prefix = uniquePrefix('poller');
    const redis = await redisFor(prefix);
    const config = pollerConfig(s, prefix);
    const p = await poller(config);
    await watching(p);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the first job', async () => (await jobIds(p)).length === 1);
    // What a worker does: unlock through vCenter, then close the incident.
    const client = createClientFromConfig(config.vcenters[0]!, logger);
    cleanups.push(() => client.close());
    await client.connect();
    await client.waitForTask(await client.cryptoUnlock({ type: 'VirtualMachine', value: a.moref }));
    await until('the VM to be unlocked', async () => (await ctl.vm(a.moref)).cryptoState === 'unlocked');
    const store = new IncidentStore(redis, prefix);
    await store.close(`sim.${a.moref}.1`, 'resolved', 'unlocked by test');
    await ctl.lock([a.moref]);
    await until('the second job', async () => (await jobIds(p)).length === 2);
    expect(await jobIds(p)).toEqual([`sim.${a.moref}.1`, `sim.${a.moref}.2`]);
    expect((await store.require(`sim.${a.moref}.2`)).state).toBe('open');
  });
});
