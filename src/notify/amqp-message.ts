import type { Options } from 'amqplib';
import { CLOUDEVENTS_CONTENT_TYPE, routingKeyOf } from './event.ts';
import type { NotificationEvent } from './types.ts';

/** Routing key, body and AMQP properties of one notification. */
export interface AmqpMessage {
  routingKey: string;
  body: Buffer;
  options: Options.Publish;
}

/**
 * Structured-mode CloudEvent as an AMQP message: persistent, mandatory (so an
 * unroutable message comes back and is logged), messageId = event id, and the
 * `severity` / `transition` / `incident-id` headers for bindings on a headers exchange.
 */
export function toAmqpMessage(event: NotificationEvent): AmqpMessage {
  const time = Date.parse(event.time);
  return {
    routingKey: routingKeyOf(event.data.transition),
    body: Buffer.from(JSON.stringify(event), 'utf8'),
    options: {
      persistent: true,
      mandatory: true,
      messageId: event.id,
      contentType: CLOUDEVENTS_CONTENT_TYPE,
      contentEncoding: 'utf-8',
      type: event.type,
      appId: 'vmlock',
      // AMQP timestamps are whole seconds.
      timestamp: Number.isFinite(time) ? Math.floor(time / 1000) : Math.floor(Date.now() / 1000),
      headers: { severity: event.severity, transition: event.data.transition, 'incident-id': event.data.incidentId },
    },
  };
}
