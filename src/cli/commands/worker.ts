import type { Command } from 'commander';
import { addConnectionOptions, configFromFlags, type ConnectionFlags } from '../options.ts';
import { createLogger } from '../../log.ts';
import { runWorkerUntilSignal } from '../../worker/run.ts';

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('worker')
      .description(
        'work on incident jobs (Redis/BullMQ): diagnose, remediate per policy, verify, escalate, until SIGTERM/SIGINT; ' +
          'any number of workers on any machines share the queue (plus the ops HTTP server, and the notifier when worker.runNotifier)',
      ),
  ).action(async (flags: ConnectionFlags) => {
    const config = configFromFlags(flags);
    const logger = createLogger({ level: config.logging.level, name: 'worker' });
    await runWorkerUntilSignal({ config, logger });
  });
}
