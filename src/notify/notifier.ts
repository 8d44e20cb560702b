import { Queue, Worker, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Logger } from '../log.ts';
import { redactUrl } from '../log.ts';
import type { Config } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import { NOTIFICATIONS_QUEUE } from '../incidents/model.ts';
import { AmqpConfirmPublisher } from './amqp-publisher.ts';
import { backoffDelay, sleep } from './backoff.ts';
import { LogSink } from './log-sink.ts';
import { assertNotificationEvent } from './schema.ts';
import type { NotificationEvent, NotificationJob, NotificationSink } from './types.ts';
import { health as processHealth, type HealthRegistry } from '../ops/health.ts';

/** Name of the notifier's entry in the health registry (/readyz). */
export const NOTIFIER_HEALTH = 'rabbitmq-notifier';

export interface NotifierOptions {
  config: Config;
  logger: Logger;
  /** See AmqpPublisherOptions.confirmTimeoutMs. */
  confirmTimeoutMs?: number;
  /** Where publish health is reported (as NOTIFIER_HEALTH). @defaultValue the process-wide registry */
  health?: HealthRegistry;
}

export interface NotifierHandle {
  /** Stops publishing; an in-flight notification goes back to the head of the outbox. */
  stop(): Promise<void>;
}

/**
 * The publisher loop: drains the outbox to RabbitMQ (or to the log when no
 * broker is configured).
 *
 * Order per incident: the outbox is one FIFO list. A failed publish is NOT
 * handed back to BullMQ for a retry (a retried job goes to the delayed set and
 * later jobs overtake it); the processor keeps the job and retries the publish
 * itself with back-off until the broker confirms it. With worker concurrency 1
 * and queue-wide global concurrency 1 (several notifier processes share the
 * queue), only the head job is ever in flight, so every incident's messages
 * leave in the order they were emitted. On stop, the in-flight job is moved
 * back to the head of the list (BullMQ's moveToWait pushes on the consuming
 * end); if the process dies instead, the stalled-job check puts it back there
 * too. At-least-once: a message may go out twice (consumers drop it by id).
 */
/** Settles as the promise does, or resolves as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export function startNotifier(opts: NotifierOptions): NotifierHandle {
  const { config } = opts;
  const log = opts.logger.child({ component: 'notifier' });
  const url = config.rabbitmq.url?.trim();
  const health = opts.health ?? processHealth;
  let sink: NotificationSink;
  if (!url) {
    log.warn('no RabbitMQ broker configured (rabbitmq.url is empty): notifications are written to this log instead of published');
    sink = new LogSink(log);
    health.report(NOTIFIER_HEALTH, true, 'no broker configured: logging notifications');
  } else {
    sink = new AmqpConfirmPublisher({
      url,
      exchange: config.rabbitmq.exchange,
      logger: log,
      confirmTimeoutMs: opts.confirmTimeoutMs,
      onBlocked: (reason) => health.report(NOTIFIER_HEALTH, false, 'blocked by RabbitMQ', reason),
    });
    health.report(NOTIFIER_HEALTH, true, 'starting');
    log.info({ broker: redactUrl(url), exchange: config.rabbitmq.exchange }, 'notifier publishing the outbox to RabbitMQ');
  }
  const stopping = new AbortController();
  const maxBackoff = config.rabbitmq.maxBackoff;

  async function backToHead(job: Job<NotificationJob>, token: string | undefined): Promise<never> {
    try {
      if (token) await job.moveToWait(token);
    } catch (err) {
      // The lock expires and the stalled-job check puts it back instead.
      log.warn({ jobId: job.id, err: errorMessage(err) }, 'could not put the in-flight notification back; it returns when its lock expires');
    }
    throw new WaitingError();
  }

  async function publishJob(job: Job<NotificationJob>, token?: string): Promise<{ publishedAt: string }> {
    let event: NotificationEvent;
    try {
      event = assertNotificationEvent(job.data?.event);
    } catch (err) {
      log.error({ jobId: job.id, err: errorMessage(err) }, 'malformed notification job: moved to the failed set, not published');
      throw new UnrecoverableError(errorMessage(err));
    }
    for (let attempt = 1; ; attempt++) {
      if (stopping.signal.aborted) return backToHead(job, token);
      try {
        await sink.publish(event, stopping.signal);
        const fields = { id: event.id, incidentId: event.data.incidentId, routingKey: `incident.${event.data.transition}`, attempts: attempt };
        if (attempt > 1) log.info(fields, 'notification published after retries');
        else log.debug(fields, 'notification published');
        health.report(NOTIFIER_HEALTH, true, url ? 'publishing' : 'no broker configured: logging notifications');
        return { publishedAt: new Date().toISOString() };
      } catch (err) {
        if (stopping.signal.aborted) return backToHead(job, token);
        const delay = backoffDelay(attempt, maxBackoff);
        health.report(NOTIFIER_HEALTH, false, 'retrying', errorMessage(err));
        log.warn({ id: event.id, attempt, retryInMs: delay, err: errorMessage(err) }, 'notification not confirmed by RabbitMQ; it stays first in the outbox and is retried');
        await sleep(delay, stopping.signal);
      }
    }
  }

  const connection = { url: config.redis.url, maxRetriesPerRequest: null };
  const worker = new Worker<NotificationJob>(NOTIFICATIONS_QUEUE, publishJob, {
    connection,
    prefix: config.redis.prefix,
    concurrency: 1,
    autorun: false,
    // A stall (crash, long GC) must put the job back, never fail it: failing would drop it from the order.
    maxStalledCount: 1_000_000,
  });
  // Redis being down yields an error per reconnect attempt: log a repeat at most every 30 s.
  let lastQueueError = { text: '', at: 0 };
  const onQueueError = (err: Error): void => {
    const text = errorMessage(err);
    if (text === lastQueueError.text && Date.now() - lastQueueError.at < 30_000) return;
    lastQueueError = { text, at: Date.now() };
    log.warn({ err: text }, 'notifier: Redis error (notifications stay in the outbox)');
  };
  worker.on('error', onQueueError);
  worker.on('failed', (job, err) => log.error({ jobId: job?.id, err: errorMessage(err) }, 'notification job failed'));

  // Redis may be down at start: keep trying (until stopped) rather than sit idle.
  const running = (async () => {
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      try {
        const queue = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: config.redis.url }, prefix: config.redis.prefix });
        queue.on('error', onQueueError);
        try {
          // A command to an unreachable Redis can stay pending past close(): do not wait for it after a stop.
          await untilAborted(queue.setGlobalConcurrency(1), stopping.signal);
        } finally {
          await queue.close();
        }
        if (!stopping.signal.aborted) await worker.run();
        return;
      } catch (err) {
        if (stopping.signal.aborted) return;
        const delay = backoffDelay(attempt, maxBackoff);
        log.error({ err: errorMessage(err), retryInMs: delay }, 'notifier could not start or stopped on an error; retrying');
        await sleep(delay, stopping.signal);
      }
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        // close() first so the worker fetches nothing more once the abort puts the current job back.
        const closing = worker.close();
        stopping.abort();
        await closing;
        await running;
        await sink.close();
      })();
      return stopped;
    },
  };
}
