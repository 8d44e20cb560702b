import type { ChildSet } from '../lib/children.ts';
import { IncidentWatch } from '../lib/incidents.ts';
import { NotificationSink } from '../lib/notification-sink.ts';
import { canary, quiesce, type PhaseEnv } from '../lib/phase.ts';
import { cpuSeconds, peakRssMb } from '../lib/procfs.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { startSimulatorProcess } from '../lib/simulator.ts';
import { percentile, perMinute, round } from '../lib/stats.ts';
import { startVmlockStack } from '../lib/vmlock-processes.ts';
import { exponentialGap, pickDistinct, seededRandom } from '../lib/schedule.ts';
import { sleep, waitUntil } from '../lib/wait.ts';

/**
 * Detection, idle and memory on one large inventory (10,000 VMs; 1,000 with
 * --quick), in this order:
 *  1. with poller, workers and notifier running (as in production), lock VMs
 *     one at a time at random moments and take each lock's latency to its
 *     BullMQ job (job.timestamp vs the moment the lock request was sent; both
 *     on this machine's clock). Finished jobs are kept, so each is read even
 *     after a worker resolved its incident.
 *  2. wait until the workers resolved those incidents: nothing is locked.
 *  3. once no SOAP call was seen for 5 s (2 s with --quick; late events of step 1 can ask the
 *     poller for a re-read), the idle window: SOAP calls per minute
 *     (periodic reconciliation is set to 1 h, beyond the window) and the
 *     poller's CPU seconds.
 *  4. peak RSS (VmHWM) of the poller, one worker and the simulator.
 */
export interface InventoryResult {
  vms: number;
  detection: { locks: number; p50Ms: number; p99Ms: number; maxMs: number; samplesMs: number[] };
  idle: { seconds: number; calls: number; callsPerMinute: number; pollerCpuSeconds: number; callsByMethod: Record<string, number> };
  memory: { pollerRssMb: number; workerRssMb: number; simulatorRssMb: number };
  /** Notifications received by a consumer bound to the exchange, by routing key. */
  notifications: Record<string, number>;
}

const QUIET_MAX_MS = 90_000;

/** Waits until the simulator saw no SOAP call for quietMs; ms waited, or undefined on time-out. */
async function waitForQuiet(api: SimControl, children: ChildSet, quietMs: number): Promise<number | undefined> {
  const start = Date.now();
  let last = (await api.stats()).callsTotal;
  let lastChange = Date.now();
  while (Date.now() - start < QUIET_MAX_MS) {
    await sleep(500);
    children.assertAlive();
    const now = (await api.stats()).callsTotal;
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= quietMs) {
      return Date.now() - start;
    }
  }
  return undefined;
}

export async function runInventory(env: PhaseEnv): Promise<InventoryResult> {
  const o = env.opts;
  const children: ChildSet = env.newChildSet();
  const prefix = `${env.runId}-inventory`;
  const watch = new IncidentWatch(o.redisUrl, prefix);
  const exchange = `${env.runId}.inventory`;
  let sink: NotificationSink | undefined;
  try {
    sink = await NotificationSink.open(o.amqpUrl, exchange);
    env.log(`inventory: starting the simulator with ${o.inventoryVms} VMs`);
    const sim = await startSimulatorProcess(children, env.repoRoot, 'inventory-simulator', {
      scenario: 'clean',
      port: 0,
      vms: o.inventoryVms,
      latencyMs: o.latencyMs,
      taskConcurrency: o.taskConcurrency,
      taskDurationsMs: { CryptoUnlock_Task: o.unlockTaskMs },
      seed: o.seed,
    });
    const api = new SimControl(sim.controlUrl);
    const { poller, workers } = startVmlockStack(env, children, 'inventory', { sim, redisPrefix: prefix, exchange });

    const vms = (await api.vms()).map((v) => v.moref);
    const [canaryVm, ...others] = vms;
    if (!canaryVm || others.length < o.locks) throw new Error(`inventory: the simulator has ${vms.length} VMs, need ${o.locks + 1}`);
    await canary(api, watch, children, canaryVm, { waitForClose: true, timeoutMs: 180_000 });
    await quiesce(watch, children, 'the canary incident to settle', 60_000);

    // 1. Detection.
    const rand = seededRandom(o.seed);
    const chosen = pickDistinct(others, o.locks, rand);
    env.log(`detection: locking ${chosen.length} VMs one at a time (mean gap ${o.lockGapMs} ms)`);
    const lockedAt = new Map<string, number>();
    for (const moref of chosen) {
      await sleep(exponentialGap(rand, o.lockGapMs));
      children.assertAlive();
      lockedAt.set(moref, Date.now());
      await api.lock([moref]);
    }
    const jobAt = new Map<string, number>();
    await waitUntil(
      async () => {
        for (const moref of chosen) {
          if (jobAt.has(moref)) continue;
          const id = await watch.latestId(moref);
          const ts = id ? await watch.jobTimestamp(id) : undefined;
          if (ts !== undefined) jobAt.set(moref, ts);
        }
        return jobAt.size === chosen.length;
      },
      {
        what: 'a job in Redis for every locked VM',
        timeoutMs: 60_000,
        intervalMs: 100,
        check: () => children.assertAlive(),
        describe: () => `${jobAt.size} of ${chosen.length} jobs found`,
      },
    );
    const samples = chosen.map((m) => (jobAt.get(m) as number) - (lockedAt.get(m) as number));

    // 2. Let the workers resolve everything, so the idle window has nothing locked.
    await quiesce(watch, children, 'the detection incidents to close', 180_000);
    const stillLocked = (await api.stats()).vmsByState.locked;
    if (stillLocked > 0) env.log(`inventory: warning: ${stillLocked} VMs are still locked after their incidents closed`);

    // 3. Idle. Late work of the detection phase (events read after their
    // incidents closed, the re-read they ask for) is not idle: the window starts
    // once no SOAP call has been seen for 5 s, 2 s with --quick (or after QUIET_MAX_MS anyway).
    const quietAfterMs = await waitForQuiet(api, children, o.quick ? 2000 : 5000);
    if (quietAfterMs === undefined) env.log(`idle: warning: still SOAP calls after ${QUIET_MAX_MS / 1000} s; measuring anyway`);
    env.log(`idle: measuring for ${o.idleSeconds} s`);
    await api.resetStats();
    const cpu0 = cpuSeconds(poller.pid);
    const t0 = Date.now();
    const idleEnd = t0 + o.idleSeconds * 1000;
    while (Date.now() < idleEnd) {
      children.assertAlive();
      await sleep(Math.min(1000, idleEnd - Date.now()));
    }
    const idleStats = await api.stats();
    const windowMs = Date.now() - t0;
    const cpu1 = cpuSeconds(poller.pid);

    // 4. Memory, read while every process still runs.
    const worker = workers[0];
    if (!worker) throw new Error('inventory: no worker was started');
    const memory = {
      pollerRssMb: round(peakRssMb(poller.pid), 1),
      workerRssMb: round(peakRssMb(worker.pid), 1),
      simulatorRssMb: round(peakRssMb(sim.child.pid), 1),
    };
    return {
      vms: vms.length,
      detection: {
        locks: samples.length,
        p50Ms: round(percentile(samples, 50), 1),
        p99Ms: round(percentile(samples, 99), 1),
        maxMs: round(Math.max(...samples), 1),
        samplesMs: samples.map((s) => round(s, 1)),
      },
      idle: {
        seconds: round(windowMs / 1000, 1),
        calls: idleStats.callsTotal,
        callsPerMinute: round(perMinute(idleStats.callsTotal, windowMs), 2),
        pollerCpuSeconds: round(cpu1 - cpu0, 2),
        callsByMethod: idleStats.calls,
      },
      memory,
      notifications: { ...(sink?.byRoutingKey ?? {}) },
    };
  } finally {
    await children.stopAll();
    await watch.close();
    await sink?.close();
  }
}
