import { Queue } from 'bullmq';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { NOTIFICATIONS_QUEUE } from '../incidents/model.ts';
import { buildNotificationEvent, jobIdOf } from './event.ts';
import { assertNotificationEvent } from './schema.ts';
import type { IncidentNotification, NotificationJob } from './types.ts';

export interface OutboxOptions {
  redisUrl: string;
  /** The deployment's Redis prefix (config.redis.prefix). */
  prefix: string;
  logger: Logger;
}

/** Job states that still have to be published. */
const PENDING_STATES = ['wait', 'active', 'delayed', 'prioritized'] as const;

/** Notifications not yet confirmed by the broker (the outbox queue depth), for /metrics. */
export function countPendingNotifications(queue: Queue): Promise<number> {
  return queue.getJobCountByTypes(...PENDING_STATES);
}

/**
 * The outbox: a BullMQ queue in Redis that the notifier drains to RabbitMQ.
 * emit() returns once the notification is safely in Redis; it survives broker
 * outages and restarts. The job id is the message id, so emitting the same
 * transition twice queues it once (while the first is kept: a day, or the last 10 000).
 * Call emit() for one incident in order and await each: that order is the publish order.
 */
export class NotificationOutbox {
  private readonly queue: Queue<NotificationJob>;
  private readonly log: Logger;

  constructor(opts: OutboxOptions) {
    this.log = opts.logger;
    this.queue = new Queue<NotificationJob>(NOTIFICATIONS_QUEUE, {
      connection: { url: opts.redisUrl },
      prefix: opts.prefix,
      defaultJobOptions: {
        attempts: 1,
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        // A failed job is a malformed one; kept for inspection.
        removeOnFail: false,
      },
    });
    this.queue.on('error', (err: Error) => this.log.warn({ err: errorMessage(err) }, 'notification outbox: Redis error'));
  }

  /** Queues one transition. Throws PayloadError for a notification that does not make a valid message. */
  async emit(n: IncidentNotification): Promise<void> {
    const event = assertNotificationEvent(buildNotificationEvent(n));
    await this.queue.add(event.type, { event }, { jobId: jobIdOf(event.id) });
    this.log.debug({ id: event.id, incidentId: event.data.incidentId }, 'notification queued');
  }

  /** Outbox depth: queued or in-flight notifications. */
  pending(): Promise<number> {
    return countPendingNotifications(this.queue);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
