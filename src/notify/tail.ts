import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { redactUrl } from '../log.ts';
import { errorMessage, VmlockError } from '../errors.ts';

/** One message as received by a tail. */
export interface TailedMessage {
  /** The parsed body (a CloudEvent), or undefined when it is not JSON. */
  event: unknown;
  raw: string;
  routingKey: string;
  messageId?: string;
  headers: Record<string, unknown>;
  contentType?: string;
  persistent: boolean;
}

export interface TailOptions {
  url: string;
  exchange: string;
  /** Topic binding patterns. @defaultValue ['incident.#'] */
  bindings?: string[];
  onMessage: (m: TailedMessage) => void;
  /** Called once if the connection fails after it was set up. */
  onError?: (err: Error) => void;
}

export interface Tail {
  close(): Promise<void>;
}

/**
 * Binds a temporary exclusive, auto-deleted queue to the exchange (asserted
 * durable topic, as the notifier does) and hands each message over. Resolves
 * once the queue is bound, so nothing published afterwards is missed.
 */
export async function tailNotifications(opts: TailOptions): Promise<Tail> {
  let model: ChannelModel;
  try {
    model = await connect(opts.url, { timeout: 10_000, clientProperties: { connection_name: 'vmlock-notifications-tail' } });
  } catch (err) {
    throw new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', `cannot connect to RabbitMQ at ${redactUrl(opts.url)}: ${errorMessage(err)}`);
  }
  let closing = false;
  model.on('error', () => undefined);
  model.on('close', () => {
    if (!closing) opts.onError?.(new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', 'RabbitMQ closed the connection'));
  });
  try {
    const ch = await model.createChannel();
    await ch.assertExchange(opts.exchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    for (const pattern of opts.bindings?.length ? opts.bindings : ['incident.#']) await ch.bindQueue(queue, opts.exchange, pattern);
    await ch.consume(
      queue,
      (msg: ConsumeMessage | null) => {
        if (!msg) return;
        const raw = msg.content.toString('utf8');
        let event: unknown;
        try {
          event = JSON.parse(raw);
        } catch {
          event = undefined;
        }
        opts.onMessage({
          event,
          raw,
          routingKey: msg.fields.routingKey,
          messageId: msg.properties.messageId as string | undefined,
          headers: (msg.properties.headers ?? {}) as Record<string, unknown>,
          contentType: msg.properties.contentType as string | undefined,
          persistent: msg.properties.deliveryMode === 2,
        });
      },
      { noAck: true },
    );
  } catch (err) {
    closing = true;
    await model.close().catch(() => undefined);
    throw new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', `cannot tail exchange "${opts.exchange}": ${errorMessage(err)}`);
  }
  return {
    async close() {
      closing = true;
      await model.close().catch(() => undefined);
    },
  };
}
