import type { Logger } from '../log.ts';
import { routingKeyOf } from './event.ts';
import { formatNotificationLine } from './format.ts';
import type { NotificationEvent, NotificationSink } from './types.ts';

/** No broker configured: each notification becomes one log line (with the whole event). */
export class LogSink implements NotificationSink {
  constructor(private readonly logger: Logger) {}

  async publish(event: NotificationEvent): Promise<void> {
    this.logger.info(
      { notification: event, routingKey: routingKeyOf(event.data.transition), severity: event.severity },
      `notification (no broker): ${formatNotificationLine(event)}`,
    );
  }

  async close(): Promise<void> {}
}
