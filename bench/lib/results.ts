import { cpus, loadavg, totalmem } from 'node:os';
import type { BenchOptions, Phase } from './args.ts';
import { makeCheck, resultWord, type Check } from './report.ts';
import type { StormResult } from '../scenarios/storm.ts';
import type { InventoryResult } from '../scenarios/inventory.ts';
import type { ClientResult } from '../scenarios/client.ts';

/**
 * One run's figures as checks (with targets), as notes printed under the
 * table, and as the bench/results.json document.
 */

export interface PhaseResults {
  storm?: StormResult;
  inventory?: InventoryResult;
  client?: ClientResult;
}


/** The storm ratio's target is set for storms of this size (issue #8); smaller ones are reported only. */
export const STORM_RATIO_TARGET_VMS = 1000;

/**
 * Why a storm of `vms` VMs is not judged against the ratio target, or
 * undefined when it is: in a small storm the fixed start-up and a partly empty
 * last wave weigh several times more against a bound of a few waves.
 */
export function stormRatioUnjudged(vms: number): string | undefined {
  if (vms >= STORM_RATIO_TARGET_VMS) return undefined;
  return `the storm.ratio target is for storms of ${STORM_RATIO_TARGET_VMS} VMs or more; this one had ${vms} (start-up and a partly empty last wave weigh more against a bound of a few waves)`;
}

export function checksOf(r: PhaseResults, o: BenchOptions): Check[] {
  const s = r.storm;
  const inv = r.inventory;
  const c = r.client;
  const skip = (p: Phase): boolean => !o.only.includes(p);
  const [noStorm, noInv, noClient] = [skip('storm'), skip('inventory'), skip('client')];
  return [
    makeCheck('storm.seconds', s?.seconds, 's', undefined, noStorm),
    makeCheck('storm.lowerBoundSeconds', s?.lowerBoundSeconds, 's', undefined, noStorm),
    makeCheck('storm.ratio', s?.ratio, '', { op: '<=', limit: 1.2 }, noStorm, stormRatioUnjudged(s?.vms ?? o.stormVms)),
    makeCheck('storm.baselineSeconds', s?.baselineSeconds, 's', undefined, noStorm),
    makeCheck('storm.ratioToBaseline', s?.ratioToBaseline, '', undefined, noStorm),
    makeCheck('storm.callsPerIncident', s?.callsPerIncident, '', { op: '<=', limit: 3 }, noStorm),
    makeCheck('storm.peakConcurrentTasks', s?.peakConcurrentTasks, '', { op: '<=', limit: o.taskConcurrency }, noStorm),
    makeCheck('detection.p50Ms', inv?.detection.p50Ms, 'ms', undefined, noInv),
    makeCheck('detection.p99Ms', inv?.detection.p99Ms, 'ms', { op: '<', limit: 1000 }, noInv),
    makeCheck('idle.callsPerMinute', inv?.idle.callsPerMinute, '', { op: '<=', limit: 2 }, noInv),
    makeCheck('idle.pollerCpuSeconds', inv?.idle.pollerCpuSeconds, 's', undefined, noInv),
    makeCheck('memory.pollerRssMb', inv?.memory.pollerRssMb, 'MiB', undefined, noInv),
    makeCheck('memory.workerRssMb', inv?.memory.workerRssMb, 'MiB', undefined, noInv),
    makeCheck('memory.simulatorRssMb', inv?.memory.simulatorRssMb, 'MiB', undefined, noInv),
    makeCheck('client.wsdlLoadMs', c?.wsdlLoadMs, 'ms', undefined, noClient),
    makeCheck('client.parse10kMs', c?.parse10kMs, 'ms', undefined, noClient),
  ];
}

/** Context printed under the table: where a storm spent its time, and how busy the machine was. */
export function notes(r: PhaseResults, startLoad: number): string[] {
  const out: string[] = [];
  const s = r.storm;
  if (s) {
    const b = s.breakdown;
    // Fixed decimals, so the lines line up from run to run (results.json keeps the full values).
    const sec = (v: number): string => v.toFixed(2);
    out.push(`storm: first job added ${sec(b.firstJobAddedSeconds)} s after the reboot and started at ${sec(b.firstJobStartedSeconds)} s; all jobs added by ${sec(b.lastJobAddedSeconds)} s, last one started at ${sec(b.lastJobStartedSeconds)} s, finished at ${sec(b.lastJobFinishedSeconds)} s; outcomes ${JSON.stringify(s.outcomes)} (the canary's included)`);
    const seen = b.slotUnlocksSeen < s.vms ? ` (from the last ${b.slotUnlocksSeen} of ${s.vms} unlocks: the simulator lists its last 2,000 tasks)` : '';
    out.push(`storm task slots${seen}: first unlock running ${sec(b.firstUnlockSeconds)} s after the reboot, then ${b.slotIdleMsPerUnlock.toFixed(1)} ms of slot time idle per unlock (finish noticed, slot handed over, next start call; the first wave's ramp-up included)`);
    out.push(`storm CPU seconds: ${Object.entries(s.cpuSeconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} (of ${cpus().length} cores x ${sec(s.seconds)} s)`);
  }
  out.push(`machine: ${cpus().length} cores, load average ${startLoad.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at end`);
  return out;
}

export function resultsJson(r: PhaseResults, o: BenchOptions, checks: Check[], errors: { phase: string; message: string }[], startedAt: Date, startLoad: number): unknown {
  const nul = <T>(v: T | undefined): T | null => (v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v);
  const s = r.storm;
  const inv = r.inventory;
  const c = r.client;
  return {
    benchmark: 'vmlock',
    version: 1,
    date: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    quick: o.quick,
    complete: errors.length === 0,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryMb: Math.round(totalmem() / 2 ** 20), node: process.version, loadAverage1mAtStart: startLoad, loadAverage1mAtEnd: loadavg()[0] },
    parameters: {
      stormVms: o.stormVms,
      inventoryVms: o.inventoryVms,
      locks: o.locks,
      lockGapMs: o.lockGapMs,
      idleSeconds: o.idleSeconds,
      latencyMs: o.latencyMs,
      unlockTaskMs: o.unlockTaskMs,
      taskConcurrency: o.taskConcurrency,
      maxConcurrentTasksPerVcenter: o.taskConcurrency,
      workers: o.workers,
      workerConcurrency: o.workerConcurrency,
      parseVms: o.parseVms,
      seed: o.seed,
      phases: o.only,
    },
    storm: {
      vms: nul(s?.vms),
      seconds: nul(s?.seconds),
      lowerBoundSeconds: nul(s?.lowerBoundSeconds),
      ratio: nul(s?.ratio),
      baselineSeconds: nul(s?.baselineSeconds),
      ratioToBaseline: nul(s?.ratioToBaseline),
      callsPerIncident: nul(s?.callsPerIncident),
      peakConcurrentTasks: nul(s?.peakConcurrentTasks),
      incidents: nul(s?.incidents),
      breakdown: s?.breakdown ?? null,
      cpuSeconds: s?.cpuSeconds ?? null,
      outcomes: s?.outcomes ?? {},
      callsByMethod: s?.callsByMethod ?? {},
      notifications: s?.notifications ?? {},
    },
    detection: {
      inventoryVms: nul(inv?.vms),
      locks: nul(inv?.detection.locks),
      p50Ms: nul(inv?.detection.p50Ms),
      p99Ms: nul(inv?.detection.p99Ms),
      maxMs: nul(inv?.detection.maxMs),
      samplesMs: inv?.detection.samplesMs ?? [],
      notifications: inv?.notifications ?? {},
    },
    idle: {
      inventoryVms: nul(inv?.vms),
      seconds: nul(inv?.idle.seconds),
      calls: nul(inv?.idle.calls),
      callsPerMinute: nul(inv?.idle.callsPerMinute),
      pollerCpuSeconds: nul(inv?.idle.pollerCpuSeconds),
      callsByMethod: inv?.idle.callsByMethod ?? {},
    },
    memory: {
      inventoryVms: nul(inv?.vms),
      pollerRssMb: nul(inv?.memory.pollerRssMb),
      workerRssMb: nul(inv?.memory.workerRssMb),
      simulatorRssMb: nul(inv?.memory.simulatorRssMb),
    },
    client: {
      wsdlLoadMs: nul(c?.wsdlLoadMs),
      importMs: nul(c?.importMs),
      parse10kMs: nul(c?.parse10kMs),
      parseMedianMs: nul(c?.parseMedianMs),
      parseColdMs: nul(c?.parseColdMs),
      parseVms: nul(c?.parseVms),
      responseMb: nul(c?.responseMb),
    },
    checks: checks.map((k) => ({ name: k.name, value: k.value, unit: k.unit, target: k.target ? `${k.target.op} ${k.target.limit}` : null, result: resultWord(k) || null, ...(k.unjudged !== undefined ? { why: k.unjudged } : {}) })),
    errors,
  };
}
