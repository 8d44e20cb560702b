import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import { REDACT_PATHS } from '../../log.ts';
import { startSimulator } from '../../simulator/index.ts';

function nonNegativeInt(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number of at least 0`);
    return n;
  };
}

interface SimFlags {
  scenario: string;
  port: number;
  host: string;
  user?: string;
  password?: string;
  tls: boolean;
  latencyMs: number;
  seed: number;
  vms?: number;
  apiVersion: '8.0.3' | '6.5';
  taskConcurrency?: number;
  json: boolean;
}

/** `vmlock sim`: the vCenter simulator as a foreground process until SIGINT/SIGTERM. */
export function register(program: Command): void {
  program
    .command('sim')
    .description(
      'Run the vCenter simulator: vim25 SOAP at <url>/sdk and the JSON control API at /_sim/ on one port. ' +
        'Prints the SDK URL and credentials, then runs until SIGINT/SIGTERM.',
    )
    .option('--scenario <name|file>', 'scenario: clean, mixed, storm, or a scenario YAML file', 'mixed')
    .option('--port <n>', 'TCP port (0 picks a free one)', nonNegativeInt('--port'), 8989)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--user <user>', 'the administrator user (default administrator@vsphere.local)')
    .option('--password <password>', 'its password (default: printed at start)')
    .option('--tls', 'serve HTTPS with a built-in self-signed certificate (test only)', false)
    .option('--latency-ms <n>', 'delay every SOAP call by n ms', nonNegativeInt('--latency-ms'), 0)
    .option('--seed <n>', 'seed of key ids and uuids', nonNegativeInt('--seed'), 1)
    .option('--vms <n>', 'number of generated VMs (clean, storm)', nonNegativeInt('--vms'))
    .addOption(new Option('--api-version <v>', 'vSphere API the simulator speaks').choices(['8.0.3', '6.5']).default('8.0.3'))
    .option('--task-concurrency <n>', 'tasks running at once (the rest queue)', nonNegativeInt('--task-concurrency'))
    .option('--json', 'print one JSON line {url, controlUrl, user, password, scenario} on stdout; logs go to stderr', false)
    .action(async (flags: SimFlags) => {
      // stdout carries only the endpoint line; logs go to stderr.
      const logger = pino({ level: process.env.VMLOCK_LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { component: 'simulator' } }, pino.destination(2));
      const sim = await startSimulator({
        scenario: flags.scenario,
        port: flags.port,
        host: flags.host,
        user: flags.user,
        password: flags.password,
        tls: flags.tls,
        latencyMs: flags.latencyMs,
        seed: flags.seed,
        vms: flags.vms,
        apiVersion: flags.apiVersion,
        taskConcurrency: flags.taskConcurrency,
        logger,
      });
      const info = { url: sim.url, controlUrl: sim.controlUrl, user: sim.user, password: sim.password, scenario: sim.scenario };
      if (flags.json) process.stdout.write(JSON.stringify(info) + '\n');
      else {
        process.stdout.write(
          `vCenter simulator (scenario ${sim.scenario})\n  SDK URL:  ${sim.url}\n  user:     ${sim.user}\n  password: ${sim.password}\n  control:  ${sim.controlUrl}/stats\nCtrl-C stops it.\n`,
        );
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.stop();
    });
}
