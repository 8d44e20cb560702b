import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { Config } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { health } from './health.ts';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './http.ts';

/** What a long-running process (poller, worker, notifier) shares: its ops HTTP server and its stop on a signal. */
export interface ProcessOps {
  close(): Promise<void>;
}

/**
 * Starts the process's ops HTTP server on its own Redis connection. A server
 * that cannot start is logged, never fatal: the process's real work goes on.
 */
export async function startProcessOps(opts: {
  config: Config;
  logger: Logger;
  kind: HttpServerOptions['kind'];
  queues?: { incidents?: Queue; notifications?: Queue };
}): Promise<ProcessOps> {
  const { config, logger, kind } = opts;
  if (!config.http.enabled) return { close: async () => undefined };
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let server: HttpServer | undefined;
  try {
    server = await startHttpServer({ config, logger, kind, health, redis, ...(opts.queues ? { queues: opts.queues } : {}) });
    logger.info({ url: server.url }, `${kind} ops HTTP server listening`);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, `${kind} ops HTTP server did not start; the ${kind} works on without it`);
  }
  return {
    close: async () => {
      await server?.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * Resolves once SIGTERM or SIGINT arrived and `stop` finished (its error is
 * logged). A second signal while stopping exits at once with 130.
 */
export function untilSignal(logger: Logger, name: string, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, `${name} stopping`);
      stop()
        .catch((err: unknown) => logger.error({ err: errorMessage(err) }, `error while stopping the ${name}`))
        .finally(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          logger.info(`${name} stopped`);
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
