import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { startNotifier } from './notifier.ts';
import { Redis } from 'ioredis';
import { startHttpServer, type HttpServer } from '../ops/http.ts';
import { health } from '../ops/health.ts';

/** The ops HTTP server of the notifier process (port http.port + 2); a failure to start it is logged, not fatal. */
async function startOps(config: Config, logger: Logger): Promise<{ server?: HttpServer; redis?: Redis }> {
  if (!config.http.enabled) return {};
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const server = await startHttpServer({ config, logger, kind: 'notifier', health, redis });
    logger.info({ url: server.url }, 'notifier ops HTTP server listening');
    return { server, redis };
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'notifier ops HTTP server did not start; notifications are published anyway');
    redis.disconnect();
    return {};
  }
}

/**
 * Runs the notifier (and its ops HTTP server) until SIGTERM or SIGINT, then
 * stops it gracefully (the in-flight notification goes back to the head of
 * the outbox). A second signal while stopping exits at once.
 */
export async function runNotifierUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { logger } = opts;
  const notifier = startNotifier(opts);
  const ops = await startOps(opts.config, logger);
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
        .then(() => ops.server?.close())
        .then(() => ops.redis?.quit())
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
