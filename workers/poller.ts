/**
 * Process entry point of the poller: watches the configured vCenters and
 * queues incident jobs until SIGTERM/SIGINT. Config from VMLOCK_CONFIG (or the
 * first argument) over config/default.yaml, plus VMLOCK__* overrides.
 *   tsx workers/poller.ts [config.yaml]
 */
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { errorMessage, VmlockError } from '../src/errors.ts';
import { runPollerUntilSignal } from '../src/poller/run.ts';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig({ file: process.argv[2] });
  } catch (err) {
    process.stderr.write(`vmlock poller: ${errorMessage(err)}\n`);
    return 2;
  }
  const logger = createLogger({ level: config.logging.level, name: 'poller' });
  try {
    await runPollerUntilSignal({ config, logger });
    return 0;
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'poller failed');
    return err instanceof VmlockError ? 2 : 1;
  }
}

process.exitCode = await main();
