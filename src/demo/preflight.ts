import { Redis } from 'ioredis';
import { connect } from 'amqplib';
import { redactUrl } from '../log.ts';
import { errorMessage } from '../errors.ts';

/**
 * Checks that Redis and RabbitMQ answer before the demo starts anything, and
 * says exactly what is missing and how to start it. URLs are shown without
 * their passwords.
 */
export interface ServiceProblem {
  service: 'Redis' | 'RabbitMQ';
  url: string;
  error: string;
  howToStart: string[];
}

const REDIS_START = [
  'redis-server --daemonize yes --appendonly yes',
  'docker compose up -d redis',
];
const RABBITMQ_START = ['rabbitmq-server -detached', 'docker compose up -d rabbitmq'];

export async function checkRedis(url: string, timeoutMs = 3_000): Promise<ServiceProblem | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis also emits connection errors as events; they are reported through connect() below.
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (err) {
    return { service: 'Redis', url: redactUrl(url), error: errorMessage(err) || 'no answer', howToStart: REDIS_START };
  } finally {
    redis.disconnect();
  }
}

export async function checkRabbitMq(url: string, timeoutMs = 5_000): Promise<ServiceProblem | undefined> {
  try {
    const model = await connect(url, { timeout: timeoutMs });
    await model.close().catch(() => {});
    return undefined;
  } catch (err) {
    return { service: 'RabbitMQ', url: redactUrl(url), error: describeAmqpError(err), howToStart: RABBITMQ_START };
  }
}

function describeAmqpError(err: unknown): string {
  const text = errorMessage(err);
  // amqplib reports a refused login as a socket close with ACCESS_REFUSED text.
  if (/ACCESS_REFUSED|403/.test(text)) return `login refused (check the user and password in the URL): ${text.split('\n')[0]}`;
  return text.split('\n')[0] || 'no answer';
}

/** Both checks at once; an empty list means go. */
export async function preflight(services: { redisUrl: string; amqpUrl: string }): Promise<ServiceProblem[]> {
  const results = await Promise.all([checkRedis(services.redisUrl), checkRabbitMq(services.amqpUrl)]);
  return results.filter((p): p is ServiceProblem => p !== undefined);
}

export function formatProblems(problems: readonly ServiceProblem[]): string {
  const lines = ['vmlock demo needs Redis and RabbitMQ; not reachable:'];
  for (const p of problems) {
    lines.push(`  - ${p.service} at ${p.url}: ${p.error}`);
    lines.push(`    start it with:  ${p.howToStart[0]}`);
    for (const alt of p.howToStart.slice(1)) lines.push(`               or:  ${alt}`);
  }
  lines.push('Nothing was started. Run the demo again once they answer (or pass --redis-url / --amqp-url).');
  return lines.join('\n');
}
