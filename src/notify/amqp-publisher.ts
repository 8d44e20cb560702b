import { connect, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import type { Logger } from '../log.ts';
import { redactUrl } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { toAmqpMessage } from './amqp-message.ts';
import type { NotificationEvent, NotificationSink } from './types.ts';

export interface AmqpPublisherOptions {
  /** AMQP URL (may hold credentials: never logged as is). */
  url: string;
  /** Durable topic exchange, asserted on every new channel. */
  exchange: string;
  logger: Logger;
  /** How long to wait for the broker's confirm before the connection is dropped and the publish fails (and is retried). @defaultValue 30000 */
  confirmTimeoutMs?: number;
  /** TCP connect + AMQP handshake timeout. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** AMQP heartbeat, so a silently dead connection is noticed. Used when the URL sets none. @defaultValue 15 */
  heartbeatSeconds?: number;
  /** Told when RabbitMQ blocks the connection (for health reporting). */
  onBlocked?: (reason: string) => void;
}

/** One open connection with its confirm channel; dropped whole when either closes. */
interface Link {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Set while RabbitMQ blocks publishing (connection.blocked), with its reason. */
  blocked?: string;
  dead: boolean;
  /** Called when the link dies or is unblocked, to wake waiting publishes. */
  listeners: Set<(why?: string) => void>;
}

/** Thrown when a publish is abandoned because the notifier stops. */
export class PublishAbortedError extends Error {
  constructor() {
    super('publish abandoned: the notifier is stopping');
    this.name = 'PublishAbortedError';
  }
}

/**
 * Publishes notifications on a RabbitMQ confirm channel. publish() resolves
 * only when the broker confirmed the message, and rejects on anything else
 * (no connection, nack, lost connection, no confirm in time) so the caller
 * retries. Connection and channel are opened lazily and reopened after a close.
 */
export class AmqpConfirmPublisher implements NotificationSink {
  private link?: Link;
  private opening?: Promise<Link>;
  private closed = false;
  private readonly log: Logger;
  private readonly broker: string;
  private readonly confirmTimeoutMs: number;

  constructor(private readonly opts: AmqpPublisherOptions) {
    this.log = opts.logger;
    this.broker = redactUrl(opts.url);
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 30_000;
  }

  async publish(event: NotificationEvent, signal: AbortSignal): Promise<void> {
    if (this.closed) throw new Error('publisher is closed');
    const link = await this.currentLink();
    if (link.blocked) await this.waitUnblocked(link, signal);
    if (signal.aborted) throw new PublishAbortedError();
    await this.publishConfirmed(link, event, signal);
  }

  async close(): Promise<void> {
    this.closed = true;
    const link = this.link ?? (await this.opening?.catch(() => undefined));
    if (link) await this.drop(link, 'publisher closed');
  }

  private currentLink(): Promise<Link> {
    if (this.link && !this.link.dead) return Promise.resolve(this.link);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private connectUrl(): string {
    try {
      const u = new URL(this.opts.url);
      if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(this.opts.heartbeatSeconds ?? 15));
      return u.toString();
    } catch {
      return this.opts.url;
    }
  }

  private async open(): Promise<Link> {
    let model: ChannelModel;
    try {
      model = await connect(this.connectUrl(), {
        timeout: this.opts.connectTimeoutMs ?? 10_000,
        clientProperties: { connection_name: 'vmlock-notifier' },
      });
    } catch (err) {
      // amqplib messages name host and port at most, never the password.
      throw new Error(`cannot connect to RabbitMQ at ${this.broker}: ${errorMessage(err)}`, { cause: err });
    }
    const partial: Omit<Link, 'channel'> = { model, dead: false, listeners: new Set() };
    model.on('error', (err: Error) => this.log.warn({ broker: this.broker, err: errorMessage(err) }, 'RabbitMQ connection error'));
    model.on('close', () => void this.markDead(partial as Link, 'connection closed'));
    model.on('blocked', (reason: string) => {
      partial.blocked = reason || 'no reason given';
      this.opts.onBlocked?.(partial.blocked);
      this.log.warn({ broker: this.broker, reason: partial.blocked }, 'RabbitMQ blocked the connection (resource alarm); notifications wait in the outbox until it is unblocked');
    });
    model.on('unblocked', () => {
      partial.blocked = undefined;
      this.log.info({ broker: this.broker }, 'RabbitMQ unblocked the connection; publishing resumes');
      for (const wake of [...partial.listeners]) wake();
    });
    try {
      const channel = await model.createConfirmChannel();
      const link: Link = Object.assign(partial, { channel });
      channel.on('error', (err: Error) => this.log.warn({ broker: this.broker, err: errorMessage(err) }, 'RabbitMQ channel error'));
      // A closed channel takes its connection with it: the next publish opens both afresh.
      channel.on('close', () => void this.drop(link, 'channel closed'));
      channel.on('return', (msg: Message) => this.onReturned(msg));
      await channel.assertExchange(this.opts.exchange, 'topic', { durable: true });
      if (this.closed) throw new Error('publisher is closed');
      this.link = link;
      this.log.info({ broker: this.broker, exchange: this.opts.exchange }, 'connected to RabbitMQ (confirm channel open, exchange asserted)');
      return link;
    } catch (err) {
      await this.drop(partial as Link, 'setup failed');
      throw new Error(`cannot open a confirm channel on exchange "${this.opts.exchange}" at ${this.broker}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** mandatory + no queue bound for the routing key: the broker returns the message (and still confirms it). */
  private onReturned(msg: Message): void {
    // Returned messages carry basic.return's reply code and text in their fields.
    const fields = msg.fields as Message['fields'] & { replyCode?: number; replyText?: string };
    this.log.warn(
      {
        messageId: msg.properties.messageId as string | undefined,
        exchange: fields.exchange,
        routingKey: fields.routingKey,
        replyCode: fields.replyCode,
        replyText: fields.replyText,
      },
      `notification unroutable: RabbitMQ returned ${String(msg.properties.messageId)} because no queue is bound to exchange "${fields.exchange}" for routing key "${fields.routingKey}"; nobody received it`,
    );
  }

  private waitUnblocked(link: Link, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (why?: string): void => {
        link.listeners.delete(done);
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) reject(new PublishAbortedError());
        else if (link.dead) reject(new Error(`RabbitMQ connection lost while blocked: ${why ?? 'closed'}`));
        else resolve();
      };
      const onAbort = (): void => done();
      if (!link.blocked || link.dead || signal.aborted) return done();
      link.listeners.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private publishConfirmed(link: Link, event: NotificationEvent, signal: AbortSignal): Promise<void> {
    const msg = toAmqpMessage(event);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        link.listeners.delete(onDead);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(new PublishAbortedError());
      const onDead = (why?: string): void => {
        if (link.dead) finish(new Error(`RabbitMQ connection lost before the broker confirmed ${event.id}: ${why ?? 'closed'}`));
      };
      const timer = setTimeout(() => {
        finish(new Error(`no publisher confirm for ${event.id} within ${this.confirmTimeoutMs} ms${link.blocked ? ' (connection blocked)' : ''}`));
        // The connection is in an unknown state: start afresh on the retry.
        void this.drop(link, 'confirm timeout');
      }, this.confirmTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      link.listeners.add(onDead);
      try {
        link.channel.publish(this.opts.exchange, msg.routingKey, msg.body, msg.options, (err: unknown) => {
          finish(err ? new Error(`RabbitMQ did not accept ${event.id}: ${err instanceof Error ? err.message : 'negative acknowledgement'}`) : undefined);
        });
      } catch (err) {
        // Thrown when the channel closed under us (IllegalOperationError) or the message cannot be encoded.
        finish(new Error(`cannot publish ${event.id}: ${errorMessage(err)}`, { cause: err }));
      }
    });
  }

  private markDead(link: Link, why: string): void {
    if (link.dead) return;
    link.dead = true;
    if (this.link === link) this.link = undefined;
    if (!this.closed) this.log.warn({ broker: this.broker, why }, 'RabbitMQ connection lost; it is reopened on the next publish');
    for (const wake of [...link.listeners]) wake(why);
  }

  private async drop(link: Link, why: string): Promise<void> {
    this.markDead(link, why);
    // close() waits for the broker's close-ok; a cut connection never sends it.
    await Promise.race([link.model.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}
