/**
 * `npm run bench`: vmlock (poller, workers, notifier as separate processes)
 * against the vCenter simulator with a latency model. Prints every figure
 * beside its target and writes bench/results.json (stable names: see
 * lib/report.ts). Usage and exit codes: lib/args.ts (npm run bench -- --help).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions, type Phase } from './lib/args.ts';
import { ChildSet } from './lib/children.ts';
import type { PhaseEnv } from './lib/phase.ts';
import { formatTable } from './lib/report.ts';
import { checksOf, notes, resultsJson, type PhaseResults } from './lib/results.ts';
import { checkRabbit, checkRedis, deleteExchange, deletePrefix, ServiceUnavailableError } from './lib/services.ts';
import { runStorm } from './scenarios/storm.ts';
import { runInventory } from './scenarios/inventory.ts';
import { runClient } from './scenarios/client.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
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
  const setUp = [
    o.only.includes('storm') ? `storm ${o.stormVms} VMs, C=${o.taskConcurrency}, unlock ${o.unlockTaskMs} ms, latency ${o.latencyMs} ms/call, ${o.workers} workers x ${o.workerConcurrency}` : undefined,
    o.only.includes('inventory') ? `inventory ${o.inventoryVms} VMs, ${o.locks} locks, idle ${o.idleSeconds} s` : undefined,
    o.only.includes('client') ? `client ${o.parseVms}-VM parse` : undefined,
  ].filter((x) => x !== undefined);
  process.stdout.write(`\nvmlock benchmark ${startedAt.toISOString()}${o.quick ? ' (quick)' : ''}: ${setUp.join('; ')}\n\n`);
  process.stdout.write(formatTable(checks) + '\n');
  for (const c of checks) if (c.unjudged !== undefined) process.stdout.write(`\n${c.name} not judged: ${c.unjudged}\n`);
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
