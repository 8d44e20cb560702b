import { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { errorMessage, VmlockError } from '../errors.ts';
import { health } from '../ops/health.ts';
import { startHttpServer, type HttpServer } from '../ops/http.ts';
import { startPoller, type RunningPoller } from './index.ts';

/** The poller's ops HTTP server (http.port + 0); a failure to start it is logged, never fatal. */
async function startOps(config: Config, logger: Logger, poller: RunningPoller): Promise<{ server?: HttpServer; redis?: Redis }> {
  if (!config.http.enabled) return {};
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const server = await startHttpServer({ config, logger, kind: 'poller', health, redis, queues: { incidents: poller.queue } });
    logger.info({ url: server.url }, 'poller ops HTTP server listening');
    return { server, redis };
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'poller ops HTTP server did not start; polling goes on without it');
    redis.disconnect();
    return {};
  }
}

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
  const ops = await startOps(config, logger, poller);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'poller stopping');
      Promise.resolve()
        .then(() => ops.server?.close())
        .then(() => poller.stop())
        .then(() => ops.redis?.quit())
        .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'error while stopping the poller'))
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
