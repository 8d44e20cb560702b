import { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { health } from '../ops/health.ts';
import { startHttpServer, type HttpServer } from '../ops/http.ts';
import { startWorker, tuningFromEnv } from './index.ts';

/**
 * Runs the worker and its ops HTTP server (http.port + 1) until SIGTERM or
 * SIGINT, then stops gracefully: active jobs finish their current wait or are
 * picked up again by another worker. A second signal exits at once.
 */
export async function runWorkerUntilSignal(opts: { config: Config; logger: Logger }): Promise<void> {
  const { config, logger } = opts;
  const worker = await startWorker({ config, logger, tuning: tuningFromEnv() });
  let server: HttpServer | undefined;
  let redis: Redis | undefined;
  if (config.http.enabled) {
    redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      server = await startHttpServer({ config, logger, kind: 'worker', health, redis, queues: { incidents: worker.queue } });
      logger.info({ url: server.url }, 'worker ops HTTP server listening');
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'worker ops HTTP server did not start; working on without it');
    }
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'worker stopping');
      Promise.resolve()
        .then(() => server?.close())
        .then(() => worker.stop())
        .then(() => redis?.quit())
        .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'error while stopping the worker'))
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
