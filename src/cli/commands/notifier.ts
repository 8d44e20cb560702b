import type { Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { createLogger } from '../../log.ts';
import { runNotifierUntilSignal } from '../../notify/run.ts';

export function register(program: Command): void {
  program
    .command('notifier')
    .description('publish queued incident notifications (the Redis outbox) to RabbitMQ until SIGTERM/SIGINT; logs them when no broker is configured')
    .option('-c, --config <file>', 'configuration file (default: $VMLOCK_CONFIG, else config/default.yaml alone)')
    .action(async (flags: { config?: string }) => {
      const config = loadConfig({ file: flags.config });
      const logger = createLogger({ level: config.logging.level, name: 'notifier' });
      await runNotifierUntilSignal({ config, logger });
    });
}
