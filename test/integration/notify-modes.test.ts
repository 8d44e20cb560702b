import { describe, it, expect, afterEach } from 'vitest';
import { Queue } from 'bullmq';
import { NOTIFICATIONS_QUEUE } from '../../src/incidents/model.ts';
import { NotificationOutbox, startNotifier, tailNotifications, notificationProblems, type TailedMessage, type NotificationEvent, type NotifierHandle, type Tail } from '../../src/notify/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { AMQP_URL, REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { captureLogger, cleanup, incidentStory, notifyConfig, waitFor } from './notify-fixtures.ts';

const open: { notifiers: NotifierHandle[]; outbox?: NotificationOutbox; tail?: Tail; proxy?: TcpProxy; prefix?: string; exchange?: string } = { notifiers: [] };

afterEach(async () => {
  for (const n of open.notifiers) await n.stop();
  await open.outbox?.close();
  await open.tail?.close();
  await open.proxy?.close();
  if (open.prefix && open.exchange) await cleanup(open.prefix, open.exchange);
  open.notifiers = [];
  delete open.outbox;
  delete open.tail;
  delete open.proxy;
  delete open.prefix;
  delete open.exchange;
});

function world(name: string): { prefix: string; exchange: string } {
  const prefix = (open.prefix = uniquePrefix(name));
  const exchange = (open.exchange = `vmlock.events.${prefix}`);
  return { prefix, exchange };
}

describe('notifier modes and bad input', () => {
  it('logs an unroutable (returned) message clearly, and still counts it as sent', async () => {
    const { prefix, exchange } = world('notify-unroutable');
    const { logger, lines } = captureLogger();
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    const [opened] = incidentStory('sim', 'vm-20', 'resolve');
    // No queue is bound to this fresh exchange.
    open.notifiers.push(startNotifier({ config: notifyConfig({ prefix, exchange }), logger }));
    await open.outbox.emit(opened!);
    await waitFor('the unroutable log line', () => lines().some((l) => String(l.msg).startsWith('notification unroutable')));
    const line = lines().find((l) => String(l.msg).startsWith('notification unroutable'))!;
    expect(line.level).toBe(40);
    expect(line.messageId).toBe('sim.vm-20.1/opened');
    expect(line.routingKey).toBe('incident.opened');
    expect(line.exchange).toBe(exchange);
    expect(String(line.msg)).toContain('no queue is bound');
    await waitFor('an empty outbox', async () => (await open.outbox!.pending()) === 0);
  });

  it('with no broker configured, says so once and logs each notification', async () => {
    const { prefix, exchange } = world('notify-nobroker');
    const { logger, lines } = captureLogger();
    const config = loadConfig({ env: {}, overrides: { redis: { url: REDIS_URL, prefix }, rabbitmq: { url: '', exchange } } });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    open.notifiers.push(startNotifier({ config, logger }));
    const story = incidentStory('sim', 'vm-21', 'escalate');
    for (const n of story) await open.outbox.emit(n);
    const logged = (): Record<string, unknown>[] => lines().filter((l) => String(l.msg).startsWith('notification (no broker)'));
    await waitFor(`${story.length} logged notifications`, () => logged().length >= story.length);
    expect(lines().filter((l) => String(l.msg).includes('no RabbitMQ broker configured'))).toHaveLength(1);
    const events = logged().map((l) => l.notification as NotificationEvent);
    expect(events.map((e) => e.data.transition)).toEqual(story.map((n) => n.transition));
    for (const e of events) expect(notificationProblems(e)).toEqual([]);
    expect(String(logged().at(-1)!.msg)).toContain('action needed: Restore key k-2');
  });

  it('moves a malformed job to the failed set with a clear error and keeps publishing the rest', async () => {
    const { prefix, exchange } = world('notify-malformed');
    const { logger, lines } = captureLogger();
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, onMessage: (m) => received.push(m) });
    const q = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    await q.add('junk', { event: { specversion: '0.3', id: 42 } }, { jobId: 'junk-1' });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    for (const n of incidentStory('sim', 'vm-22', 'fail')) await open.outbox.emit(n);
    open.notifiers.push(startNotifier({ config: notifyConfig({ prefix, exchange }), logger }));
    await waitFor('3 messages', () => received.length >= 3);
    expect(received.map((m) => m.routingKey)).toEqual(['incident.opened', 'incident.diagnosed', 'incident.failed']);
    const err = lines().find((l) => String(l.msg).startsWith('malformed notification job'))!;
    expect(String(err.err)).toMatch(/specversion.*must be equal to constant/);
    expect(await q.getJobState('junk-1')).toBe('failed');
    await q.close();
  });

  it('refuses a notification that cannot make a valid message, naming the problem', async () => {
    const { prefix } = world('notify-refuse');
    open.exchange = `vmlock.events.${prefix}`;
    const { logger } = captureLogger();
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    const escalated = incidentStory('sim', 'vm-23', 'escalate').at(-1)!;
    delete escalated.incident.humanAction;
    await expect(open.outbox.emit(escalated)).rejects.toThrow(/invalid notification: \/data: must have required property 'humanAction'/);
    expect(await open.outbox.pending()).toBe(0);
  });

  it('on stop during an outage puts the in-flight notification back first; a later notifier sends all in order', async () => {
    const { prefix, exchange } = world('notify-restart');
    const broker = new URL(AMQP_URL);
    open.proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
    await open.proxy.cut();
    const viaProxy = new URL(AMQP_URL);
    viaProxy.port = String(open.proxy.port);
    const config = notifyConfig({ prefix, exchange, amqpUrl: viaProxy.toString(), maxBackoff: '200ms' });
    const { logger, lines } = captureLogger();
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, onMessage: (m) => received.push(m) });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    const story = incidentStory('sim', 'vm-24', 'escalate');
    for (const n of story) await open.outbox.emit(n);

    const first = startNotifier({ config, logger });
    await waitFor('a retry', () => lines().some((l) => String(l.msg).includes('not confirmed by RabbitMQ') && Number(l.attempt) >= 2));
    await first.stop();
    expect(await open.outbox.pending()).toBe(story.length);
    const q = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    expect(await q.getJobCounts('active', 'wait')).toEqual({ active: 0, wait: story.length });
    await q.close();

    await open.proxy.restore();
    open.notifiers.push(startNotifier({ config, logger }));
    await waitFor(`${story.length} messages`, () => received.length >= story.length);
    expect(received.map((m) => m.messageId)).toEqual(story.map((n) => `${n.incident.id}/${n.transition}${n.discriminator ? '/' + n.discriminator : ''}`));
  });
});
