import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { VmlockError } from '../errors.ts';
import { startProcessOps, untilSignal } from '../ops/process-runner.ts';
import { health } from '../ops/health.ts';
import { startPoller } from './index.ts';

/**
 * Runs the poller and its ops HTTP server until SIGTERM or SIGINT, then stops
 * gracefully (leases released so another replica takes over at once). A
 * second signal while stopping exits at once.
 */
export async function runPollerUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { config, logger } = opts;
  if (config.vcenters.length === 0) {
    throw new VmlockError('VMLOCK_ERR_USAGE', 'no vCenter configured: add vcenters[] to the config file (see config/default.yaml) or pass --vcenter URL --user USER');
  }
  const poller = await startPoller({ config, logger, health });
  const ops = await startProcessOps({ config, logger, kind: 'poller', queues: { incidents: poller.queue } });
  await untilSignal(logger, 'poller', async () => {
    await ops.close();
    await poller.stop();
  });
}
