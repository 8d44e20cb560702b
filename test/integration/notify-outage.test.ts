import { describe, it, expect, afterEach } from 'vitest';
import { Queue } from 'bullmq';
import { NOTIFICATIONS_QUEUE } from '../../src/incidents/model.ts';
import { HealthRegistry } from '../../src/ops/health.ts';
import { NotificationOutbox, startNotifier, tailNotifications, notificationProblems, type TailedMessage, type NotificationEvent, type NotifierHandle, type Tail } from '../../src/notify/index.ts';
import { AMQP_URL, REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { captureLogger, cleanup, incidentStory, notifyConfig, waitFor } from './notify-fixtures.ts';

const open: { notifier?: NotifierHandle; outbox?: NotificationOutbox; tail?: Tail; proxy?: TcpProxy; prefix?: string; exchange?: string } = {};

afterEach(async () => {
  await open.notifier?.stop();
  await open.outbox?.close();
  await open.tail?.close();
  await open.proxy?.close();
  if (open.prefix && open.exchange) await cleanup(open.prefix, open.exchange);
  for (const k of Object.keys(open)) delete open[k as keyof typeof open];
});

describe('notifications through a broker outage', () => {
  it('loses none and keeps per-incident order when RabbitMQ is cut off mid-run', async () => {
    const prefix = (open.prefix = uniquePrefix('notify-outage'));
    const exchange = (open.exchange = `vmlock.events.${prefix}`);
    const broker = new URL(AMQP_URL);
    open.proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
    const viaProxy = new URL(AMQP_URL);
    viaProxy.port = String(open.proxy.port);
    const config = notifyConfig({ prefix, exchange, amqpUrl: viaProxy.toString(), maxBackoff: '300ms' });
    const { logger, lines } = captureLogger();

    // The consumer talks to the broker directly: only the notifier's path is cut.
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, onMessage: (m) => received.push(m) });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    open.notifier = startNotifier({ config, logger, confirmTimeoutMs: 2_000 });

    const flavours = ['escalate', 'resolve', 'fail'] as const;
    const stories = Array.from({ length: 12 }, (_, i) => incidentStory('sim', `vm-${100 + i}`, flavours[i % 3]!));
    const total = stories.flat().length;
    const firstHalf = stories.map((s) => s.slice(0, Math.ceil(s.length / 2)));
    const secondHalf = stories.map((s) => s.slice(Math.ceil(s.length / 2)));
    const emitAll = (parts: typeof stories): Promise<unknown> =>
      Promise.all(parts.map(async (part) => {
        for (const n of part) await open.outbox!.emit(n);
      }));

    await emitAll(firstHalf);
    await waitFor('some messages before the cut', () => received.length >= 5);
    await open.proxy.cut();
    const arrivedBeforeCut = new Set(received.map((m) => m.messageId));
    await emitAll(secondHalf);
    // While cut, the rest waits in the outbox and the notifier keeps retrying.
    await waitFor('a retry warning', () => lines().some((l) => String(l.msg).includes('not confirmed by RabbitMQ') && Number(l.attempt) >= 2));
    expect(await open.outbox.pending()).toBeGreaterThan(0);
    expect(arrivedBeforeCut.size).toBeLessThan(total);

    await open.proxy.restore();
    const ids = (): Set<string> => new Set(received.map((m) => String(m.messageId)));
    await waitFor(`all ${total} distinct messages`, () => ids().size >= total, 25_000);
    await waitFor('an empty outbox', async () => (await open.outbox!.pending()) === 0);

    // A message confirmed-but-unacknowledged at the cut may come twice: consumers drop it by id.
    const firstSeen: NotificationEvent[] = [];
    const seen = new Set<string>();
    for (const m of received) {
      expect(notificationProblems(m.event)).toEqual([]);
      const ev = m.event as NotificationEvent;
      if (seen.has(ev.id)) continue;
      seen.add(ev.id);
      firstSeen.push(ev);
    }
    expect(firstSeen).toHaveLength(total);
    for (const story of stories) {
      const incidentId = story[0]!.incident.id;
      const got = firstSeen.filter((e) => e.data.incidentId === incidentId).map((e) => e.id);
      const want = story.map((n) => `${n.incident.id}/${n.transition}${n.discriminator ? '/' + n.discriminator : ''}`);
      expect(got).toEqual(want);
    }
    expect(lines().some((l) => String(l.msg).includes('published after retries'))).toBe(true);
    // Credentials never reach the log.
    expect(lines().some((l) => JSON.stringify(l).includes('guest:guest'))).toBe(false);
  });

  it('holds notifications while RabbitMQ blocks the connection (connection.blocked) and sends them when unblocked', async () => {
    const prefix = (open.prefix = uniquePrefix('notify-blocked'));
    const exchange = (open.exchange = `vmlock.events.${prefix}`);
    const broker = new URL(AMQP_URL);
    // The shared broker is never put under a resource alarm: the proxy injects the frames it would send.
    open.proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) }, { amqpFrames: true });
    const viaProxy = new URL(AMQP_URL);
    viaProxy.port = String(open.proxy.port);
    const { logger, lines } = captureLogger();
    const health = new HealthRegistry();
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, onMessage: (m) => received.push(m) });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    open.notifier = startNotifier({ config: notifyConfig({ prefix, exchange, amqpUrl: viaProxy.toString() }), logger, health });

    const before = incidentStory('sim', 'vm-40', 'fail');
    for (const n of before) await open.outbox.emit(n);
    await waitFor('the first incident', () => received.length >= before.length);

    const reason = Buffer.from('low on memory');
    const method = (id: number, args: Buffer): Buffer => {
      const payload = Buffer.concat([Buffer.from([0, 10, 0, id]), args]);
      const header = Buffer.alloc(7);
      header.writeUInt8(1, 0);
      header.writeUInt16BE(0, 1);
      header.writeUInt32BE(payload.length, 3);
      return Buffer.concat([header, payload, Buffer.from([0xce])]);
    };
    open.proxy.injectToClients(method(60, Buffer.concat([Buffer.from([reason.length]), reason])));
    await waitFor('the blocked warning', () => lines().some((l) => String(l.msg).startsWith('RabbitMQ blocked the connection') && l.reason === 'low on memory'));
    expect(health.snapshot()['rabbitmq-notifier']).toMatchObject({ ok: false, state: 'blocked by RabbitMQ' });

    const during = incidentStory('sim', 'vm-41', 'resolve');
    for (const n of during) await open.outbox.emit(n);
    const q = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    try {
      // The head notification is taken and held, not published, while blocked.
      await waitFor('the head notification in flight', async () => (await q.getJobCounts('active')).active === 1);
      // Give a (wrongly) published message time to arrive before checking that none did.
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toHaveLength(before.length);
      expect(await open.outbox.pending()).toBe(during.length);
    } finally {
      await q.close();
    }

    open.proxy.injectToClients(method(61, Buffer.alloc(0)));
    await waitFor('the held notifications', () => received.length >= before.length + during.length);
    expect(received.slice(before.length).map((m) => m.routingKey)).toEqual(during.map((n) => `incident.${n.transition}`));
    expect(lines().some((l) => String(l.msg).startsWith('RabbitMQ unblocked the connection'))).toBe(true);
    expect(health.snapshot()['rabbitmq-notifier']).toMatchObject({ ok: true, state: 'publishing' });
  });
});
