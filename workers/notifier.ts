/**
 * Process entry point of the notifier: drains the notification outbox (Redis)
 * to RabbitMQ until SIGTERM/SIGINT. Config from VMLOCK_CONFIG (or the first
 * argument) over config/default.yaml, plus VMLOCK__* overrides.
 *   tsx workers/notifier.ts [config.yaml]
 */
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { errorMessage } from '../src/errors.ts';
import { runNotifierUntilSignal } from '../src/notify/run.ts';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig({ file: process.argv[2] });
  } catch (err) {
    process.stderr.write(`vmlock notifier: ${errorMessage(err)}\n`);
    return 2;
  }
  const logger = createLogger({ level: config.logging.level, name: 'notifier' });
  try {
    await runNotifierUntilSignal({ config, logger });
    return 0;
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'notifier failed');
    return 1;
  }
}

process.exitCode = await main();
