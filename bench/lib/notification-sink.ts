import amqp from 'amqplib';

/**
 * A consumer bound to the run's exchange, standing in for on-call tooling:
 * notifications get routed (not returned as unroutable) and are counted by
 * routing key, a sanity check beside the timings. Its queue is exclusive and
 * auto-deleted; the exchange is declared as the notifier declares it.
 */
export class NotificationSink {
  readonly byRoutingKey: Record<string, number> = {};
  total = 0;
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly channel: amqp.Channel,
  ) {}

  static async open(url: string, exchange: string): Promise<NotificationSink> {
    const conn = await amqp.connect(url);
    try {
      const channel = await conn.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, exchange, '#');
      const sink = new NotificationSink(conn, channel);
      await channel.consume(
        queue,
        (msg) => {
          if (!msg) return;
          sink.total++;
          const k = msg.fields.routingKey;
          sink.byRoutingKey[k] = (sink.byRoutingKey[k] ?? 0) + 1;
        },
        { noAck: true },
      );
      return sink;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.conn.close().catch(() => undefined);
  }
}
