import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { startNotifier } from './notifier.ts';

/**
 * Runs the notifier until SIGTERM or SIGINT, then stops it gracefully (the
 * in-flight notification goes back to the head of the outbox). A second
 * signal while stopping exits at once.
 */
export async function runNotifierUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { logger } = opts;
  const notifier = startNotifier(opts);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'notifier stopping');
      notifier
        .stop()
        .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'error while stopping the notifier'))
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          logger.info('notifier stopped');
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
