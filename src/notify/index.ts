export * from './types.ts';
export { SEVERITY_BY_TRANSITION, severityOf, severityFor, isDryRunPlan } from './severity.ts';
export {
  buildNotificationEvent,
  messageIdOf,
  jobIdOf,
  routingKeyOf,
  eventTypeOf,
  transitionOfType,
  sanitizeSource,
  EVENT_TYPE_PREFIX,
  CLOUDEVENTS_CONTENT_TYPE,
} from './event.ts';
export { notificationProblems, assertNotificationEvent, NOTIFICATION_SCHEMA_FILE } from './schema.ts';
export { toAmqpMessage, type AmqpMessage } from './amqp-message.ts';
export { AmqpConfirmPublisher, PublishAbortedError, type AmqpPublisherOptions } from './amqp-publisher.ts';
export { LogSink } from './log-sink.ts';
export { NotificationOutbox, countPendingNotifications, type OutboxOptions } from './outbox.ts';
export { startNotifier, type NotifierOptions, type NotifierHandle } from './notifier.ts';
export { formatNotificationLine } from './format.ts';
export { backoffDelay } from './backoff.ts';
export { tailNotifications, type Tail, type TailOptions, type TailedMessage } from './tail.ts';
export { runNotifierUntilSignal } from './run.ts';
