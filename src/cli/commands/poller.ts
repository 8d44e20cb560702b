import type { Command } from 'commander';
import { addConnectionOptions, configFromFlags, type ConnectionFlags } from '../options.ts';
import { createLogger } from '../../log.ts';
import { runPollerUntilSignal } from '../../poller/run.ts';

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('poller')
      .description(
        'watch every configured vCenter for locked encrypted VMs and queue one incident job per VM (Redis/BullMQ) until SIGTERM/SIGINT; ' +
          'several replicas may run: a Redis lease per vCenter lets exactly one poll it',
      ),
  ).action(async (flags: ConnectionFlags) => {
    const config = configFromFlags(flags);
    const logger = createLogger({ level: config.logging.level, name: 'poller' });
    await runPollerUntilSignal({ config, logger });
  });
}
