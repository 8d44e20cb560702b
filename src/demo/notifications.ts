import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { notificationProblems } from '../notify/schema.ts';
import { errorMessage } from '../errors.ts';

/**
 * The demo's own view of RabbitMQ: an exclusive, auto-deleted queue bound to
 * the exchange before any vmlock process starts, so no notification of this
 * run can be missed. Routing keys are `incident.<transition>` for every
 * vCenter, so messages are kept only when data.vcenter is this run's vCenter
 * name (unique per run), and each is checked against the published schema.
 */
export interface ConsumedNotification {
  id: string;
  type: string;
  routingKey: string;
  incidentId: string;
  transition: string;
  severity: string;
  /** Schema problems; empty when the message is valid. */
  problems: string[];
}

export class NotificationTap {
  readonly consumed: ConsumedNotification[] = [];
  /** Messages of other vCenters (other runs or a real deployment on the same broker). */
  ignored = 0;
  /** Bodies that are not JSON at all. */
  unreadable = 0;
  #model: ChannelModel | undefined;
  #channel: Channel | undefined;

  private constructor(private readonly vcenter: string) {}

  static async open(opts: { url: string; exchange: string; vcenter: string; binding?: string }): Promise<NotificationTap> {
    const tap = new NotificationTap(opts.vcenter);
    const model = await connect(opts.url, { timeout: 5_000 });
    tap.#model = model;
    model.on('error', () => {}); // a lost connection ends consumption; the report says how many arrived
    try {
      const ch = await model.createChannel();
      tap.#channel = ch;
      await ch.assertExchange(opts.exchange, 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await ch.bindQueue(queue, opts.exchange, opts.binding ?? 'incident.#');
      await ch.consume(queue, (msg) => msg && tap.#onMessage(msg), { noAck: true });
    } catch (err) {
      await model.close().catch(() => {});
      throw new Error(`cannot consume from RabbitMQ exchange ${opts.exchange}: ${errorMessage(err)}`, { cause: err });
    }
    return tap;
  }

  #onMessage(msg: ConsumeMessage): void {
    let body: unknown;
    try {
      body = JSON.parse(msg.content.toString('utf8'));
    } catch {
      this.unreadable += 1;
      return;
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const data = (typeof b.data === 'object' && b.data !== null ? b.data : {}) as Record<string, unknown>;
    if (data.vcenter !== this.vcenter) {
      this.ignored += 1;
      return;
    }
    this.consumed.push({
      id: String(b.id ?? msg.properties.messageId ?? ''),
      type: String(b.type ?? ''),
      routingKey: msg.fields.routingKey,
      incidentId: String(data.incidentId ?? ''),
      transition: String(data.transition ?? ''),
      severity: String(b.severity ?? ''),
      problems: notificationProblems(body),
    });
  }

  /** Terminal transitions seen, by incident id. */
  terminalByIncident(): Map<string, string> {
    const out = new Map<string, string>();
    for (const n of this.consumed) if (['resolved', 'escalated', 'failed'].includes(n.transition)) out.set(n.incidentId, n.transition);
    return out;
  }

  async close(): Promise<void> {
    await this.#channel?.close().catch(() => {});
    await this.#model?.close().catch(() => {});
  }
}
