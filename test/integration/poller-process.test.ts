import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import type { ScenarioFile } from '../../src/simulator/scenario-schema.ts';
import { startPoller } from '../../src/poller/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { IncidentStore } from '../../src/incidents/store.ts';
import { INCIDENTS_QUEUE } from '../../src/incidents/model.ts';
import { HealthRegistry } from '../../src/ops/health.ts';

/** The poller as an OS process (workers/poller.ts): killed with SIGKILL, stopped with SIGTERM. */
const logger = pino({ level: 'silent' });
const root = resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function scenario(): ScenarioFile {
  const vms = ['a', 'b', 'c'].map((n, i) => ({ name: `vm-${n}`, host: 'esx1', key: `k${i}`, powerState: 'poweredOff', disks: [{ at: 'scsi0:0', key: `k${i}` }] }));
  return { name: 'poller-process', kms: [{ id: 'kms1', default: true }], keys: Object.fromEntries(vms.map((v) => [v.key, 'active'])), hosts: [{ name: 'esx1' }], vms } as ScenarioFile;
}

async function setup() {
  const sim: RunningSimulator = await startSimulator({ scenario: scenario(), port: 0, logger });
  cleanups.push(() => sim.stop());
  const prefix = uniquePrefix('pproc');
  const redis = new Redis(REDIS_URL);
  const queueConn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(INCIDENTS_QUEUE, { connection: queueConn, prefix });
  cleanups.push(async () => {
    await queue.close();
    queueConn.disconnect();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
  const dir = mkdtempSync(join(tmpdir(), 'vmlock-poller-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    stringify({
      vcenters: [{ name: 'sim', url: sim.url, user: sim.user, password: sim.password }],
      redis: { url: REDIS_URL, prefix },
      poller: { waitMax: '2s', leaseTtl: '1s' },
      http: { enabled: false },
      logging: { level: 'warn' },
    }),
  );
  return { sim, ctl: new SimControl(sim.controlUrl), prefix, redis, queue, file, store: new IncidentStore(redis, prefix) };
}

function spawnPoller(configFile: string): ChildProcess & { exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/poller.ts', configFile], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (stderr.trim()) process.stderr.write(`poller child stderr:\n${stderr}\n`);
  });
  return Object.assign(child, { exited });
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 25_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ids = async (q: Queue) => (await q.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).map((j) => j.id ?? '').sort();

describe('poller process', () => {
  it('killed with SIGKILL and restarted: misses nothing (locks and events while down) and duplicates nothing', async () => {
    const { ctl, queue, file, store, redis, prefix } = await setup();
    const [a, b, c] = await Promise.all(['vm-a', 'vm-b', 'vm-c'].map((n) => ctl.vm(n)));
    await ctl.lock([a!.moref]);
    const child = spawnPoller(file);
    const idA = `sim.${a!.moref}.1`;
    // The lock and its events (lock event, alarm) have been handled.
    await until('the first job and its event signals', async () => (await ids(queue)).includes(idA) && (await store.require(idA)).signals >= 3);
    // ... and the checkpoint has moved past them (so a replay would show as extra signals).
    const newest = Math.max(...(await ctl.events()).map((e) => Date.parse(e.createdTime)));
    await until('the checkpoint', async () => {
      const cp = await redis.get(`${prefix}:poller:checkpoint:sim`);
      return cp !== null && (JSON.parse(cp) as { time: number }).time >= newest;
    });
    const signalsBefore = (await store.require(idA)).signals;
    child.kill('SIGKILL');
    expect(await child.exited).toBeNull();

    // While no poller runs: two more locks and a failed power-on of the locked VM (an event only).
    await ctl.lock([b!.moref, c!.moref]);
    await ctl.powerOnAttempt(a!.moref);

    const p = await startPoller({ config: loadConfig({ file }), logger, health: new HealthRegistry() });
    cleanups.push(() => p.stop());
    const expected = [a, b, c].map((v) => `sim.${v!.moref}.1`).sort();
    await until('jobs for the locks made while down', async () => (await ids(queue)).length >= 3);
    await until('the power-on failure from while down', async () => (await store.require(idA)).signals > signalsBefore);
    await until('the new poller to be watching', async () => p.status().vcenters[0]?.state === 'watching');
    expect(await ids(queue)).toEqual(expected);
    expect((await store.list()).map((i) => i.id).sort()).toEqual(expected);
    // Exactly the one new event joined: the events handled before the kill were not replayed.
    expect((await store.require(idA)).signals).toBe(signalsBefore + 1);
  });

  it('stops gracefully on SIGTERM and releases its lease', async () => {
    const { ctl, queue, file, redis, prefix } = await setup();
    const child = spawnPoller(file);
    await until('the lease', async () => (await redis.get(`${prefix}:poller:lease:sim`)) !== null);
    const a = await ctl.vm('vm-a');
    await ctl.lock([a.moref]);
    await until('the job', async () => (await ids(queue)).includes(`sim.${a.moref}.1`));
    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(await redis.get(`${prefix}:poller:lease:sim`)).toBeNull();
  });
});
