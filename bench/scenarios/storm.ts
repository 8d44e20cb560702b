import { ChildSet } from '../lib/children.ts';
import { IncidentWatch } from '../lib/incidents.ts';
import { NotificationSink } from '../lib/notification-sink.ts';
import { canary, quiesce, type PhaseEnv } from '../lib/phase.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { startSimulatorProcess } from '../lib/simulator.ts';
import { cpuSeconds } from '../lib/procfs.ts';
import { ratio, round, slotUsage, stormLowerBoundMs } from '../lib/stats.ts';
import { runStormBaseline } from './storm-baseline.ts';
import { startVmlockStack } from '../lib/vmlock-processes.ts';
import { waitUntil } from '../lib/wait.ts';

/**
 * Storm: every VM locked at once by a host reboot (keys still in the KMS), so
 * each needs exactly one CryptoUnlock_Task. With C tasks at a time of T ms
 * each, nothing can finish before ceil(N / C) x T; the ratio to that bound is
 * vmlock's overhead, whatever the machine's speed.
 */
export interface StormResult {
  vms: number;
  seconds: number;
  lowerBoundSeconds: number;
  ratio: number;
  /** The same storm on a fresh simulator, unlocked by a bare client: the reference measured in this run (one client, so one task-wait loop). */
  baselineSeconds: number;
  /** seconds / baselineSeconds. */
  ratioToBaseline: number;
  callsPerIncident: number;
  peakConcurrentTasks: number;
  incidents: number;
  outcomes: Record<string, number>;
  callsByMethod: Record<string, number>;
  /** CPU seconds used from the reboot to the last unlock, by part (poller, workers, notifier, simulator). */
  cpuSeconds: Record<string, number>;
  /** Where the time went: seconds from the reboot to the first and last incident job added and started, the last finished, and the task slots' use. */
  breakdown: {
    firstJobAddedSeconds: number;
    firstJobStartedSeconds: number;
    lastJobAddedSeconds: number;
    lastJobStartedSeconds: number;
    lastJobFinishedSeconds: number;
    /** Seconds from the reboot to the first unlock task running in the simulator. */
    firstUnlockSeconds: number;
    /** Task-slot time left idle per unlock (see slotUsage): the per-task hand-over, plus the first wave's ramp-up. */
    slotIdleMsPerUnlock: number;
    /** Unlocks those two figures were computed from: the simulator lists its last 2,000 tasks, so a bigger storm shows only its end. */
    slotUnlocksSeen: number;
  };
  /** Notifications received by a consumer bound to the exchange (canary included), by routing key. */
  notifications: Record<string, number>;
}

export async function runStorm(env: PhaseEnv): Promise<StormResult> {
  const o = env.opts;
  const children: ChildSet = env.newChildSet();
  const prefix = `${env.runId}-storm`;
  const watch = new IncidentWatch(o.redisUrl, prefix);
  const exchange = `${env.runId}.storm`;
  let sink: NotificationSink | undefined;
  try {
    sink = await NotificationSink.open(o.amqpUrl, exchange);
    const simOptions = {
      // Nothing locked at start: the storm begins with the host reboots below.
      scenario: 'clean',
      port: 0,
      vms: o.stormVms,
      latencyMs: o.latencyMs,
      taskConcurrency: o.taskConcurrency,
      taskDurationsMs: { CryptoUnlock_Task: o.unlockTaskMs },
      seed: o.seed,
    };
    env.log(`storm: baseline: ${o.stormVms} VMs rebooted and unlocked by a bare client (no vmlock)`);
    const baselineMs = await runStormBaseline(env, children, simOptions);
    env.log(`storm: baseline took ${(baselineMs / 1000).toFixed(2)} s; starting the simulator for vmlock`);
    const sim = await startSimulatorProcess(children, env.repoRoot, 'storm-simulator', simOptions);
    const api = new SimControl(sim.controlUrl);
    const { poller, workers, notifier } = startVmlockStack(env, children, 'storm', { sim, redisPrefix: prefix, exchange });
    // CPU seconds each part uses during the storm: shows whether a slow storm was CPU-bound.
    const groups = { poller: [poller], workers, notifier: [notifier], simulator: [sim.child] };
    const cpuOf = (): Record<string, number> => Object.fromEntries(Object.entries(groups).map(([k, cs]) => [k, cs.reduce((n, c) => n + cpuSeconds(c.pid), 0)]));

    const vms = await api.vms();
    const first = vms[0];
    if (!first) throw new Error('storm: the simulator has no VMs');
    await canary(api, watch, children, first.moref, { waitForClose: true, timeoutMs: 120_000 });
    await quiesce(watch, children, 'the canary incident to settle', 60_000);
    const canaryIncidents = await watch.incidentCount();

    const hosts = [...new Set(vms.map((v) => v.host))];
    await api.resetStats();
    env.log(`storm: rebooting ${hosts.length} host(s)`);
    const cpu0 = cpuOf();
    const t0 = Date.now();
    const reboots = await Promise.all(hosts.map((h) => api.rebootHost(h)));
    const lockedByReboot = reboots.reduce((n, r) => n + r.locked.length, 0);
    if (lockedByReboot !== vms.length) env.log(`storm: warning: the reboots locked ${lockedByReboot} of ${vms.length} VMs`);

    // The storm ends when the last VM is unlocked; polled every 20 ms, which is
    // well below one task duration, and only counts once the locks were seen.
    let maxLocked = 0;
    let lastLocked = 0;
    let tEnd = 0;
    const boundGuessMs = stormLowerBoundMs(o.stormVms, o.taskConcurrency, o.unlockTaskMs);
    await waitUntil(
      async () => {
        lastLocked = (await api.stats()).vmsByState.locked;
        maxLocked = Math.max(maxLocked, lastLocked);
        if (maxLocked > 0 && lastLocked === 0) {
          tEnd = Date.now();
          return true;
        }
        return false;
      },
      {
        what: 'every VM of the storm to be unlocked',
        timeoutMs: Math.max(120_000, 20 * boundGuessMs),
        intervalMs: 20,
        check: () => children.assertAlive(),
        describe: () => `${lastLocked} of ${maxLocked} VMs still locked`,
      },
    );
    const elapsedMs = tEnd - t0;
    const cpu1 = cpuOf();
    const cpuSecondsUsed = Object.fromEntries(Object.keys(cpu1).map((k) => [k, round((cpu1[k] ?? 0) - (cpu0[k] ?? 0), 2)]));
    env.log(`storm: ${maxLocked} VMs unlocked in ${(elapsedMs / 1000).toFixed(2)} s; waiting for the incidents to close`);
    await quiesce(watch, children, 'the storm incidents to close', 120_000);
    const stats = await api.stats();
    const slots = slotUsage(await api.tasks('CryptoUnlock_Task'), t0, o.taskConcurrency);
    const incidents = (await watch.incidentCount()) - canaryIncidents;
    const jobs = await watch.jobTimes(incidents + canaryIncidents + 10, t0);
    // Notifications trail the incidents a little; wait for the resolved ones (not a figure, so not fatal).
    await waitUntil(() => (sink?.byRoutingKey['incident.resolved'] ?? 0) >= incidents + canaryIncidents, { what: 'notifications', timeoutMs: 15_000, intervalMs: 200 }).catch(() => undefined);
    const boundMs = stormLowerBoundMs(maxLocked, o.taskConcurrency, o.unlockTaskMs);
    return {
      vms: maxLocked,
      seconds: round(elapsedMs / 1000),
      lowerBoundSeconds: round(boundMs / 1000),
      ratio: round(ratio(elapsedMs, boundMs)),
      baselineSeconds: round(baselineMs / 1000),
      ratioToBaseline: round(ratio(elapsedMs, baselineMs)),
      callsPerIncident: round(incidents > 0 ? stats.callsTotal / incidents : Number.NaN, 2),
      peakConcurrentTasks: stats.peakConcurrentTasks,
      incidents,
      cpuSeconds: cpuSecondsUsed,
      breakdown: {
        firstJobAddedSeconds: round((jobs.firstAdded - t0) / 1000),
        firstJobStartedSeconds: round((jobs.firstStarted - t0) / 1000),
        lastJobAddedSeconds: round((jobs.lastAdded - t0) / 1000),
        lastJobStartedSeconds: round((jobs.lastStarted - t0) / 1000),
        lastJobFinishedSeconds: round((jobs.lastFinished - t0) / 1000),
        firstUnlockSeconds: round(slots.firstStartMs / 1000),
        slotIdleMsPerUnlock: round(slots.idleMsPerTask, 1),
        slotUnlocksSeen: slots.tasks,
      },
      outcomes: await watch.outcomes(incidents + canaryIncidents + 10),
      callsByMethod: stats.calls,
      notifications: { ...(sink?.byRoutingKey ?? {}) },
    };
  } finally {
    await children.stopAll();
    await watch.close();
    await sink?.close();
  }
}
