import { parseArgs } from 'node:util';
import { resolve } from 'node:path';

/** Which parts of the benchmark to run. "inventory" is detection + idle + memory on one large inventory. */
export const PHASES = ['storm', 'inventory', 'client'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  quick: boolean;
  strict: boolean;
  /** Storm size: VMs locked by the host reboot. */
  stormVms: number;
  /** VMs in the inventory of the detection, idle and memory phase. */
  inventoryVms: number;
  /** Locks in the detection phase. */
  locks: number;
  /** Mean gap between two detection locks (exponentially distributed). */
  lockGapMs: number;
  idleSeconds: number;
  latencyMs: number;
  unlockTaskMs: number;
  /** C: concurrent tasks the simulator allows, and vmlock's maxConcurrentTasksPerVcenter. */
  taskConcurrency: number;
  /** Worker processes. */
  workers: number;
  /** worker.concurrency: incidents in progress per worker process. */
  workerConcurrency: number;
  /** VMs in the RetrievePropertiesEx body whose parse is timed. */
  parseVms: number;
  seed: number;
  out: string;
  only: Phase[];
  keepLogs: boolean;
  /** Leave the run's Redis keys and exchanges in place (to inspect incidents). */
  keepData: boolean;
  redisUrl: string;
  amqpUrl: string;
}

export const USAGE = `Usage: npm run bench -- [options]

Runs vmlock (poller, workers, notifier as processes) against the vCenter
simulator and prints each figure beside its target. Exit code 0 when the run
completed (FAILs are reported, not fatal), 1 when it could not complete,
2 for bad options or unreachable Redis/RabbitMQ; with --strict a FAIL exits 3.

  --quick              small sizes for CI (storm 100, inventory 1,000 x 10 locks, idle 15 s)
  --vms N              storm size (default 1000; quick 100)
  --inventory N        VMs for detection/idle/memory (default 10000; quick 1000)
  --locks N            detection locks (default 100; quick 10)
  --idle-seconds S     idle window (default 120; quick 15)
  --latency-ms MS      simulator latency per SOAP call (default 5)
  --task-ms MS         duration of one CryptoUnlock_Task (default 200)
  --concurrency C      concurrent tasks in the simulator = maxConcurrentTasksPerVcenter (default 16)
  --workers W          worker processes (default 2)
  --worker-concurrency N  worker.concurrency of each worker (default 32)
  --only LIST          comma list of phases: storm,inventory,client (default all)
  --out FILE           results file (default bench/results.json)
  --seed N             seed for the simulator and the lock schedule (default 42)
  --strict             exit 3 when any figure FAILs its target
  --keep-logs          keep the child processes' logs (always kept on error)
  --keep-data          keep the run's Redis keys and exchanges (prefix printed) to inspect incidents
  --redis URL          Redis (default $VMLOCK_BENCH_REDIS_URL or redis://127.0.0.1:6379)
  --amqp URL           RabbitMQ (default $VMLOCK_BENCH_AMQP_URL or amqp://guest:guest@127.0.0.1:5672)
  -h, --help           this text
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** Parses the bench's flags; returns undefined for --help. Throws UsageError naming the bad flag. */
export function parseBenchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        vms: { type: 'string' },
        inventory: { type: 'string' },
        locks: { type: 'string' },
        'idle-seconds': { type: 'string' },
        'latency-ms': { type: 'string' },
        'task-ms': { type: 'string' },
        concurrency: { type: 'string' },
        workers: { type: 'string' },
        'worker-concurrency': { type: 'string' },
        'parse-vms': { type: 'string' },
        only: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        'keep-logs': { type: 'boolean', default: false },
        'keep-data': { type: 'boolean', default: false },
        redis: { type: 'string' },
        amqp: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return undefined;
  const quick = Boolean(v.quick);
  const only = (v.only ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of only) if (!(PHASES as readonly string[]).includes(p)) throw new UsageError(`--only: unknown phase "${p}" (use ${PHASES.join(', ')})`);
  if (only.length === 0) throw new UsageError('--only: name at least one phase');
  const stormVms = int('vms', v.vms, quick ? 100 : 1000, 1, 100_000);
  const inventoryVms = int('inventory', v.inventory, quick ? 1000 : 10_000, 2, 100_000);
  const locks = int('locks', v.locks, quick ? 10 : 100, 1, 10_000);
  if (locks >= inventoryVms) throw new UsageError(`--locks (${locks}) must be below --inventory (${inventoryVms})`);
  return {
    quick,
    strict: Boolean(v.strict),
    stormVms,
    inventoryVms,
    locks,
    lockGapMs: quick ? 200 : 300,
    idleSeconds: int('idle-seconds', v['idle-seconds'], quick ? 15 : 120, 1, 3600),
    latencyMs: int('latency-ms', v['latency-ms'], 5, 0, 10_000),
    unlockTaskMs: int('task-ms', v['task-ms'], 200, 1, 600_000),
    taskConcurrency: int('concurrency', v.concurrency, 16, 1, 1000),
    workers: int('workers', v.workers, 2, 1, 16),
    workerConcurrency: int('worker-concurrency', v['worker-concurrency'], 32, 1, 1000),
    parseVms: int('parse-vms', v['parse-vms'], 10_000, 1, 100_000),
    seed: int('seed', v.seed, 42, 0, 2 ** 31 - 1),
    out: resolve(v.out ?? 'bench/results.json'),
    only: only as Phase[],
    keepLogs: Boolean(v['keep-logs']),
    keepData: Boolean(v['keep-data']),
    redisUrl: v.redis ?? env.VMLOCK_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    amqpUrl: v.amqp ?? env.VMLOCK_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  };
}
