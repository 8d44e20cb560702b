import { describe, it, expect, afterEach } from 'vitest';
import { Queue } from 'bullmq';
import { TRANSITIONS, NOTIFICATIONS_QUEUE } from '../../src/incidents/model.ts';
import {
  NotificationOutbox,
  startNotifier,
  tailNotifications,
  notificationProblems,
  countPendingNotifications,
  type TailedMessage,
  type NotificationEvent,
  type NotifierHandle,
  type Tail,
} from '../../src/notify/index.ts';
import { AMQP_URL, REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { captureLogger, cleanup, incidentStory, notifyConfig, waitFor } from './notify-fixtures.ts';

const open: { notifier?: NotifierHandle; outbox?: NotificationOutbox; tail?: Tail; prefix?: string; exchange?: string } = {};

afterEach(async () => {
  await open.notifier?.stop();
  await open.outbox?.close();
  await open.tail?.close();
  if (open.prefix && open.exchange) await cleanup(open.prefix, open.exchange);
  for (const k of Object.keys(open)) delete open[k as keyof typeof open];
});

describe('notifications over RabbitMQ', () => {
  it('delivers every transition of simulated incidents, in order per incident, valid against the schema', async () => {
    const prefix = (open.prefix = uniquePrefix('notify'));
    const exchange = (open.exchange = `vmlock.events.${prefix}`);
    const config = notifyConfig({ prefix, exchange });
    const { logger } = captureLogger();
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, bindings: ['incident.#'], onMessage: (m) => received.push(m) });

    const stories = [incidentStory('sim', 'vm-1', 'escalate'), incidentStory('sim', 'vm-2', 'resolve'), incidentStory('lab', 'vm-3', 'fail')];
    const covered = new Set(stories.flat().map((n) => n.transition));
    expect([...covered].sort()).toEqual([...TRANSITIONS].sort());

    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    // Interleave incidents the way concurrent workers would; each incident's own emits stay in order.
    await Promise.all(stories.map(async (story) => {
      for (const n of story) await open.outbox!.emit(n);
    }));
    // A re-emitted transition (a worker retry) is queued once: same id, same job.
    await open.outbox.emit(stories[0]![0]!);
    expect(await open.outbox.pending()).toBe(stories.flat().length);

    open.notifier = startNotifier({ config, logger });
    const total = stories.flat().length;
    await waitFor(`${total} messages`, () => received.length >= total);
    await waitFor('an empty outbox', async () => (await open.outbox!.pending()) === 0);

    expect(received).toHaveLength(total);
    for (const m of received) {
      expect(notificationProblems(m.event)).toEqual([]);
      const ev = m.event as NotificationEvent;
      expect(m.contentType).toBe('application/cloudevents+json');
      expect(m.persistent).toBe(true);
      expect(m.messageId).toBe(ev.id);
      expect(m.routingKey).toBe(`incident.${ev.data.transition}`);
      expect(m.headers.severity).toBe(ev.severity);
      expect(ev.source).toMatch(/^vmlock\/vcenter\/(sim|lab)$/);
    }
    for (const story of stories) {
      const incidentId = story[0]!.incident.id;
      const got = received.map((m) => m.event as NotificationEvent).filter((e) => e.data.incidentId === incidentId);
      expect(got.map((e) => e.data.transition)).toEqual(story.map((n) => n.transition));
    }
    const escalated = received.map((m) => m.event as NotificationEvent).find((e) => e.data.transition === 'escalated')!;
    expect(escalated.severity).toBe('critical');
    expect(escalated.data.humanAction).toContain('Restore key k-2');
    expect(escalated.data.actions.map((a) => `${a.kind}:${a.state}`)).toEqual(['cryptoUnlock:succeeded', 'detachDisk:failed']);
  });

  it('lets a binding select what pages someone', async () => {
    const prefix = (open.prefix = uniquePrefix('notify-bind'));
    const exchange = (open.exchange = `vmlock.events.${prefix}`);
    const { logger } = captureLogger();
    const received: TailedMessage[] = [];
    open.tail = await tailNotifications({ url: AMQP_URL, exchange, bindings: ['incident.escalated', 'incident.failed'], onMessage: (m) => received.push(m) });
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    for (const n of [...incidentStory('sim', 'vm-7', 'escalate'), ...incidentStory('sim', 'vm-8', 'fail')]) await open.outbox.emit(n);
    open.notifier = startNotifier({ config: notifyConfig({ prefix, exchange }), logger });
    await waitFor('an empty outbox', async () => (await open.outbox!.pending()) === 0);
    await waitFor('2 messages', () => received.length >= 2);
    expect(received.map((m) => m.routingKey).sort()).toEqual(['incident.escalated', 'incident.failed']);
    expect(received.every((m) => m.headers.severity === 'critical')).toBe(true);
  });

  it('counts pending notifications for /metrics from a plain queue handle', async () => {
    const prefix = (open.prefix = uniquePrefix('notify-depth'));
    open.exchange = `vmlock.events.${prefix}`;
    const { logger } = captureLogger();
    open.outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    for (const n of incidentStory('sim', 'vm-9', 'resolve')) await open.outbox.emit(n);
    const q = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    try {
      expect(await countPendingNotifications(q)).toBe(5);
    } finally {
      await q.close();
    }
  });
});
