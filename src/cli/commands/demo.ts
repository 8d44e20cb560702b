import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../config/duration.ts';
import { runDemo } from '../../demo/run.ts';
import { formatProblems } from '../../demo/preflight.ts';
import { formatReport } from '../../demo/report.ts';

/** Exit codes of `vmlock demo`. */
export const DEMO_EXIT = { ok: 0, mismatch: 1, servicesMissing: 3, interrupted: 130 } as const;

function positiveInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
    return n;
  };
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`"${text}" is not a duration; write e.g. "90s" or "5m"`);
  return ms;
}

interface DemoFlags {
  scenario: string;
  vms?: number;
  workers: number;
  timeout: number;
  json: boolean;
  redisUrl: string;
  amqpUrl: string;
  exchange: string;
  seed?: string;
  cleanup: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run vmlock end to end on the embedded vCenter simulator: the simulator, poller, workers and notifier as separate ' +
        'processes (needs Redis and RabbitMQ), live progress, then a report of each VM\'s causes, actions, outcome and time ' +
        'and the notifications consumed; exit 0 only when every VM ends as the scenario expects',
    )
    .option('--scenario <name|file>', 'simulator scenario: clean, mixed, storm, or a scenario YAML file', 'mixed')
    .option('--vms <n>', 'number of VMs of a generated scenario (storm: 1000, clean: 20 unless given; mixed has a fixed set and ignores it)', positiveInt('--vms'))
    .option('--workers <n>', 'worker processes to start', positiveInt('--workers'), 2)
    .addOption(
      new Option('--timeout <duration>', 'give up (exit 1) when not finished after this long, e.g. 90s, 10m').argParser(duration).default(300_000, '5m'),
    )
    .option('--json', 'print the report as JSON on stdout (progress still goes to stderr)', false)
    .option('--redis-url <url>', 'Redis to use', process.env.VMLOCK__redis__url ?? 'redis://127.0.0.1:6379')
    .option('--amqp-url <url>', 'RabbitMQ to use', process.env.VMLOCK__rabbitmq__url ?? 'amqp://guest:guest@127.0.0.1:5672')
    .option('--exchange <name>', 'RabbitMQ topic exchange for notifications', 'vmlock.events')
    .option('--seed <n>', 'simulator random seed (passed to vmlock sim --seed)')
    .option('--cleanup', "delete the run's Redis keys after the report (without it they stay, for vmlock incidents)")
    .addHelpText(
      'after',
      `
Exit codes: 0 every VM as expected; 1 a VM not as expected, a timeout or a process that died;
3 Redis or RabbitMQ not reachable (nothing was started); 130 interrupted (Ctrl-C).
Each run uses its own Redis prefix and vCenter name, so reruns never collide; the logs of
every process and the generated config stay in a temp directory whose path is printed, and
the run's incidents stay in Redis (vmlock incidents --config <that config>) unless --cleanup.

Examples:
  npm run demo
  npm run demo -- --scenario storm --vms 500 --timeout 10m
  npm run -s demo -- --json > report.json   (or node bin/vmlock.js demo --json)`,
    )
    .action(async (flags: DemoFlags) => {
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        interrupts += 1;
        if (interrupts === 1) {
          process.stderr.write('\nstopping the demo (Ctrl-C again to kill every process at once) ...\n');
          controller.abort();
        } else {
          process.exit(DEMO_EXIT.interrupted); // the 'exit' hook in runDemo SIGKILLs the children
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await runDemo({
          scenario: flags.scenario,
          ...(flags.vms ? { vms: flags.vms } : {}),
          workers: flags.workers,
          timeoutMs: flags.timeout,
          redisUrl: flags.redisUrl,
          amqpUrl: flags.amqpUrl,
          exchange: flags.exchange,
          progress: process.stderr,
          signal: controller.signal,
          cleanup: flags.cleanup === true,
          ...(flags.seed ? { simArgs: ['--seed', flags.seed] } : {}),
        });
        if (result.kind === 'preflight-failed') {
          if (flags.json) process.stdout.write(JSON.stringify({ ok: false, missing: result.problems }, null, 2) + '\n');
          process.stderr.write(formatProblems(result.problems) + '\n');
          process.exitCode = DEMO_EXIT.servicesMissing;
          return;
        }
        const { report } = result;
        process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
        process.exitCode = controller.signal.aborted ? DEMO_EXIT.interrupted : report.ok ? DEMO_EXIT.ok : DEMO_EXIT.mismatch;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}
