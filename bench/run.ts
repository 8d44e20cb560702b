/**
 * `npm run bench`: vmlock (poller, workers, notifier as separate processes)
 * against the vCenter simulator with a latency model. Prints every figure
 * beside its target and writes bench/results.json (stable names: see
 * lib/report.ts). Usage and exit codes: lib/args.ts (npm run bench -- --help).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions, type Phase } from './lib/args.ts';
import { ChildSet } from './lib/children.ts';
import type { PhaseEnv } from './lib/phase.ts';
import { formatTable, makeCheck, type Check } from './lib/report.ts';
import { checkRabbit, checkRedis, deleteExchange, deletePrefix, ServiceUnavailableError } from './lib/services.ts';
import { runStorm, type StormResult } from './scenarios/storm.ts';
import { runInventory, type InventoryResult } from './scenarios/inventory.ts';
import { runClient, type ClientResult } from './scenarios/client.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface PhaseResults {
  storm?: StormResult;
  inventory?: InventoryResult;
  client?: ClientResult;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function checksOf(r: PhaseResults, o: BenchOptions): Check[] {
  const s = r.storm;
  const inv = r.inventory;
  const c = r.client;
  const skip = (p: Phase): boolean => !o.only.includes(p);
  const [noStorm, noInv, noClient] = [skip('storm'), skip('inventory'), skip('client')];
  return [
    makeCheck('storm.seconds', s?.seconds, 's', undefined, noStorm),
    makeCheck('storm.lowerBoundSeconds', s?.lowerBoundSeconds, 's', undefined, noStorm),
    makeCheck('storm.ratio', s?.ratio, '', { op: '<=', limit: 1.2 }, noStorm),
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
function notes(r: PhaseResults, startLoad: number): string[] {
  const out: string[] = [];
  const s = r.storm;
  if (s) {
    const b = s.breakdown;
    out.push(`storm: every job added after ${b.lastJobAddedSeconds} s, last one started at ${b.lastJobStartedSeconds} s, finished at ${b.lastJobFinishedSeconds} s; outcomes ${JSON.stringify(s.outcomes)}`);
    out.push(`storm CPU seconds: ${Object.entries(s.cpuSeconds).map(([k, v]) => `${k} ${v}`).join(', ')} (of ${cpus().length} cores x ${s.seconds} s)`);
  }
  out.push(`machine: ${cpus().length} cores, load average ${startLoad.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at end`);
  return out;
}

function resultsJson(r: PhaseResults, o: BenchOptions, checks: Check[], errors: { phase: string; message: string }[], startedAt: Date, startLoad: number): unknown {
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
      parseColdMs: nul(c?.parseColdMs),
      parseVms: nul(c?.parseVms),
      responseMb: nul(c?.responseMb),
    },
    checks: checks.map((k) => ({ name: k.name, value: k.value, unit: k.unit, target: k.target ? `${k.target.op} ${k.target.limit}` : null, result: k.skipped ? 'skipped' : k.pass === undefined ? null : k.pass ? 'PASS' : 'FAIL' })),
    errors,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (!opts) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = opts;
  try {
    await Promise.all([checkRedis(o.redisUrl), checkRabbit(o.amqpUrl)]);
  } catch (err) {
    if (err instanceof ServiceUnavailableError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const startedAt = new Date();
  const startLoad = loadavg()[0] ?? 0;
  const runId = `vmlock-bench-${randomUUID().slice(0, 8)}`;
  const tmpDir = mkdtempSync(join(tmpdir(), `${runId}-`));
  const sets: ChildSet[] = [];
  const stopEverything = async (): Promise<void> => {
    await Promise.all(sets.map((s) => s.stopAll(3000)));
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping every child process`);
    void stopEverything()
      .then(() => cleanup(o, runId))
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const s of sets) s.killAllNow();
  });

  const env: PhaseEnv = {
    repoRoot,
    tmpDir,
    runId,
    opts: o,
    log,
    newChildSet: () => {
      const s = new ChildSet(tmpDir);
      sets.push(s);
      return s;
    },
  };
  log(`run ${runId}${o.quick ? ' (quick)' : ''}: phases ${o.only.join(', ')}; logs in ${tmpDir}`);
  const results: PhaseResults = {};
  const errors: { phase: string; message: string }[] = [];
  const runners: Record<Phase, () => Promise<void>> = {
    storm: async () => void (results.storm = await runStorm(env)),
    inventory: async () => void (results.inventory = await runInventory(env)),
    client: async () => void (results.client = await runClient(env)),
  };
  // After Ctrl-C the signal handler stops everything and exits; nothing partial is reported.
  const waitForExit = (): Promise<never> => new Promise<never>(() => undefined);
  for (const phase of o.only) {
    if (interrupted) return waitForExit();
    try {
      await runners[phase]();
    } catch (err) {
      if (interrupted) return waitForExit();
      const message = err instanceof Error ? err.message : String(err);
      errors.push({ phase, message });
      log(`${phase} failed: ${message}`);
    } finally {
      await stopEverything();
    }
  }

  const checks = checksOf(results, o);
  process.stdout.write(`\nvmlock benchmark ${startedAt.toISOString()}${o.quick ? ' (quick)' : ''}: storm ${o.stormVms} VMs, C=${o.taskConcurrency}, unlock ${o.unlockTaskMs} ms, latency ${o.latencyMs} ms/call; inventory ${o.inventoryVms} VMs, ${o.locks} locks, idle ${o.idleSeconds} s\n\n`);
  process.stdout.write(formatTable(checks) + '\n');
  process.stdout.write(notes(results, startLoad).map((n) => `\n${n}`).join('') + '\n');
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(resultsJson(results, o, checks, errors, startedAt, startLoad), null, 2) + '\n');
  process.stdout.write(`\nresults: ${o.out}\n`);
  await cleanup(o, runId);
  if (errors.length) {
    process.stdout.write(`\n${errors.length} phase(s) could not complete: ${errors.map((e) => e.phase).join(', ')}; child logs kept in ${tmpDir}\n`);
    return 1;
  }
  if (o.keepLogs) process.stdout.write(`child logs: ${tmpDir}\n`);
  else rmSync(tmpDir, { recursive: true, force: true });
  const failed = checks.filter((c) => c.pass === false);
  if (failed.length) process.stdout.write(`\n${failed.length} figure(s) FAIL their target: ${failed.map((c) => c.name).join(', ')}\n`);
  return o.strict && failed.length ? 3 : 0;
}

/** Removes what this run left in Redis and RabbitMQ (its own prefixes and exchanges only). */
async function cleanup(o: BenchOptions, runId: string): Promise<void> {
  if (o.keepData) {
    log(`keeping Redis keys ${runId}-<phase>:* and exchanges ${runId}.<phase>`);
    return;
  }
  for (const phase of ['storm', 'inventory']) {
    try {
      await deletePrefix(o.redisUrl, `${runId}-${phase}`);
      await deleteExchange(o.amqpUrl, `${runId}.${phase}`);
    } catch (err) {
      log(`cleanup of ${phase}: ${(err as Error).message}`);
    }
  }
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
