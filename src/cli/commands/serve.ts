import { InvalidArgumentError, type Command } from 'commander';
import { Redis } from 'ioredis';
import { loadConfig } from '../../config/load.ts';
import { createLogger, redactUrl } from '../../log.ts';
import { health } from '../../ops/health.ts';
import { startHttpServer } from '../../ops/http.ts';
import { errorMessage } from '../../errors.ts';

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0-65535 (0: any free port)');
  return n;
}

/**
 * `vmlock serve`: only the ops HTTP server (incidents API and approval,
 * bull-board, metrics) on Redis, for a host that runs no poller or worker, or
 * to look at a deployment from a workstation.
 */
export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'run only the ops HTTP server on Redis until SIGTERM/SIGINT: /healthz, /readyz, /metrics, /api/incidents (approve with POST ' +
        '/api/incidents/ID/approve {"by": NAME}) and the read-only queue board at /queues; listens on http.host:http.port+4 (or --port)',
    )
    .option('-c, --config <file>', 'configuration file (default: $VMLOCK_CONFIG, else config/default.yaml alone)')
    .option('--port <n>', 'listen on this port instead of http.port + 4 (0: any free port)', port)
    .option('--json', 'print {"url": ...} on stdout once listening', false)
    .action(async (flags: { config?: string; port?: number; json: boolean }) => {
      const config = loadConfig({ file: flags.config });
      const logger = createLogger({ level: config.logging.level, name: 'serve', ...(flags.json ? { destination: process.stderr } : {}) });
      const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
      redis.on('error', (err) => health.report('redis', false, 'unreachable', errorMessage(err)));
      redis.on('ready', () => health.report('redis', true, 'connected'));
      const server = await startHttpServer({ config, logger, kind: 'serve', health, redis, ...(flags.port !== undefined ? { port: flags.port } : {}) }).catch(
        (err: unknown) => {
          redis.disconnect();
          throw err;
        },
      );
      process.stdout.write(flags.json ? `${JSON.stringify({ url: server.url, redis: redactUrl(config.redis.url), prefix: config.redis.prefix })}\n` : `vmlock ops HTTP server: ${server.url} (queues: ${server.url}/queues)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server
            .close()
            .then(() => redis.quit())
            .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'error while stopping'))
            .finally(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
