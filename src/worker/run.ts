import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { startProcessOps, untilSignal } from '../ops/process-runner.ts';
import { startWorker, tuningFromEnv } from './index.ts';

/**
 * Runs the worker and its ops HTTP server (http.port + 1) until SIGTERM or
 * SIGINT, then stops gracefully: active jobs finish their current wait or are
 * picked up again by another worker. A second signal exits at once.
 */
export async function runWorkerUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { config, logger } = opts;
  const worker = await startWorker({ config, logger, tuning: tuningFromEnv() });
  const ops = await startProcessOps({ config, logger, kind: 'worker', queues: { incidents: worker.queue } });
  await untilSignal(logger, 'worker', async () => {
    await ops.close();
    await worker.stop();
  });
}
