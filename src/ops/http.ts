import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { HealthRegistry, ComponentHealth } from './health.ts';
import { registry } from './metrics.ts';
import { refreshScrapeGauges } from './scrape.ts';
import { bearerFrom, resolveHttpToken, tokenMatches } from './auth.ts';
import { portFor, type ProcessKind } from './ports.ts';
import { registerIncidentRoutes } from './incidents-api.ts';
import { registerQueuesBoard } from './queues-board.ts';
import { IncidentStore } from '../incidents/store.ts';
import { INCIDENTS_QUEUE, NOTIFICATIONS_QUEUE } from '../incidents/model.ts';
import { errorMessage } from '../errors.ts';

/**
 * The operations HTTP server of one process:
 *   GET  /healthz                     the process is alive (never needs the token)
 *   GET  /readyz                      Redis, RabbitMQ and each vCenter (503 when not ready)
 *   GET  /metrics                     Prometheus text
 *   GET  /api/incidents[?state=]      incidents with timelines (needs Redis)
 *   GET  /api/incidents/:id
 *   POST /api/incidents/:id/approve   {"by": "alice"}
 *   GET  /queues                      bull-board (needs Redis)
 * When a token is configured (always when bound off loopback) every route but
 * /healthz needs `Authorization: Bearer <token>`.
 */
export interface HttpServerOptions {
  config: Config;
  logger: Logger;
  kind: ProcessKind;
  health: HealthRegistry;
  /** Enables /api/incidents, /queues and the Redis-backed metrics. */
  redis?: Redis;
  /** The process's own queues; created on `redis` (and closed with the server) when omitted. */
  queues?: { incidents?: Queue; notifications?: Queue };
  /** Listen here instead of config.http.port + the kind's offset (0: any free port). */
  port?: number;
}

export interface HttpServer {
  /** http://host:port, or '' when config.http.enabled is false. */
  readonly url: string;
  close(): Promise<void>;
}

const REDIS_PING_TIMEOUT_MS = 2_000;

async function pingRedis(redis: Redis): Promise<ComponentHealth> {
  const updatedAt = new Date().toISOString();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_PING_TIMEOUT_MS} ms`)), REDIS_PING_TIMEOUT_MS);
    });
    await Promise.race([redis.ping(), timeout]);
    return { ok: true, state: 'connected', updatedAt, lastSuccess: updatedAt };
  } catch (err) {
    return { ok: false, state: 'unreachable', detail: errorMessage(err), updatedAt };
  } finally {
    clearTimeout(timer);
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const { config, logger, kind, health, redis } = opts;
  if (!config.http.enabled) {
    logger.info({ kind }, 'ops HTTP server disabled (http.enabled: false)');
    return { url: '', close: async () => {} };
  }
  const token = resolveHttpToken(config.http);
  // Not 'component': the process logger already binds it (a second one would repeat the JSON key).
  const log = logger.child({ ops: 'http' });

  // Queues we create ourselves are ours to close; queues handed in are not.
  const owned: Queue[] = [];
  let incidents = opts.queues?.incidents;
  let notifications = opts.queues?.notifications;
  if (redis && !incidents) {
    incidents = new Queue(INCIDENTS_QUEUE, { connection: redis, prefix: config.redis.prefix });
    owned.push(incidents);
  }
  if (redis && !notifications) {
    notifications = new Queue(NOTIFICATIONS_QUEUE, { connection: redis, prefix: config.redis.prefix });
    owned.push(notifications);
  }
  const store = redis ? new IncidentStore(redis, config.redis.prefix) : undefined;

  const app: FastifyInstance = Fastify({
    // pino 10's Logger and fastify's bundled pino typings differ only in generics.
    loggerInstance: log as unknown as FastifyBaseLogger,
    // Scrapes and probes every few seconds would drown the log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });

  app.addHook('onRequest', async (req, reply) => {
    if (!token || req.url === '/healthz' || req.url.startsWith('/healthz?')) return;
    if (!tokenMatches(bearerFrom(req.headers.authorization), token)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="vmlock"')
        .send({ error: 'missing or wrong bearer token (send Authorization: Bearer <http.token>)', code: 'VMLOCK_ERR_USAGE' });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const status = typeof (err as { statusCode?: number }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    if (status >= 500) req.log.error({ err: errorMessage(err), url: req.url }, 'ops HTTP request failed');
    void reply.code(status).send({ error: status >= 500 ? `internal error: ${errorMessage(err)}` : errorMessage(err) });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'VMLOCK_ERR_NOT_FOUND' });
  });

  app.get('/healthz', async () => ({ ok: true, kind, pid: process.pid, uptimeSeconds: Math.round(process.uptime()) }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, ComponentHealth> = {};
    if (redis) checks.redis = await pingRedis(redis);
    Object.assign(checks, health.snapshot());
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ ready, kind, checks });
  });

  app.get('/metrics', async (req, reply) => {
    try {
      await refreshScrapeGauges({ redis, prefix: config.redis.prefix, incidents, notifications });
    } catch (err) {
      // The process's own instruments are still worth serving when Redis is down.
      req.log.warn({ err: errorMessage(err) }, 'could not read Redis for the scrape-time gauges');
    }
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  if (store) registerIncidentRoutes(app, store, incidents);
  const boardQueues = [incidents, notifications].filter((q): q is Queue => q !== undefined);
  if (boardQueues.length) await registerQueuesBoard(app, boardQueues);

  const port = opts.port ?? portFor(kind, config.http.port);
  try {
    await app.listen({ host: config.http.host, port });
  } catch (err) {
    await Promise.allSettled(owned.map((q) => q.close()));
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? ' (port in use: set http.port, e.g. VMLOCK__http__port=0 for any free port)' : '';
    throw new Error(`ops HTTP server cannot listen on ${config.http.host}:${port}: ${errorMessage(err)}${hint}`, { cause: err });
  }
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${hostForUrl(config.http.host)}:${boundPort}`;
  log.info({ url, auth: token ? 'bearer' : 'none' }, 'ops HTTP server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        await Promise.allSettled(owned.map((q) => q.close()));
      })();
      return closing;
    },
  };
}
