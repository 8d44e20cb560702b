import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { startNotifier } from './notifier.ts';
import { startProcessOps, untilSignal } from '../ops/process-runner.ts';

/**
 * Runs the notifier (and its ops HTTP server) until SIGTERM or SIGINT, then
 * stops it gracefully (the in-flight notification goes back to the head of
 * the outbox). A second signal while stopping exits at once.
 */
export async function runNotifierUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { logger } = opts;
  const notifier = startNotifier(opts);
  const ops = await startProcessOps({ config: opts.config, logger, kind: 'notifier' });
  await untilSignal(logger, 'notifier', async () => {
    await notifier.stop();
    await ops.close();
  });
}
