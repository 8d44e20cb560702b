import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { IncidentSink } from '../../src/poller/incident-sink.ts';
import { IncidentStore } from '../../src/incidents/store.ts';
import { INCIDENTS_QUEUE, incidentJobSchema, type Signal } from '../../src/incidents/model.ts';
import { configSchema } from '../../src/config/schema.ts';

const logger = pino({ level: 'silent' });
let redis: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  await redis.quit();
});

function setup(reconcileInterval = '5m') {
  const prefix = uniquePrefix('sink');
  const config = configSchema.parse({ redis: { prefix }, poller: { reconcileInterval }, worker: { attempts: 3, backoff: '1s' } });
  const conn = redis.duplicate({ maxRetriesPerRequest: null });
  const queue = new Queue(INCIDENTS_QUEUE, { connection: conn, prefix });
  cleanups.push(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    conn.disconnect();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  });
  const store = new IncidentStore(redis, prefix);
  const sink = new IncidentSink({ vcenter: 'vc1', store, queue, config, logger });
  return { prefix, queue, store, sink };
}

const leased = async () => true;
const vm = { moref: 'vm-7', name: 'db-7' };
const signal = (kind: Signal['kind'] = 'cryptoState', at = new Date()): Signal => ({ kind, at: at.toISOString(), detail: 'runtime.cryptoState=locked' });

describe('incident sink', () => {
  it('turns a lock into one job whose id is the incident id, with the configured job options', async () => {
    const { sink, queue } = setup();
    const r = await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    expect(r).toEqual({ outcome: 'opened', id: 'vc1.vm-7.1' });
    const job = await queue.getJob('vc1.vm-7.1');
    expect(job?.name).toBe('incident');
    expect(incidentJobSchema.parse(job?.data)).toMatchObject({ incidentId: 'vc1.vm-7.1', vcenter: 'vc1', vm, signal: { kind: 'cryptoState' } });
    expect(job?.opts.attempts).toBe(3);
    expect(job?.opts.backoff).toEqual({ type: 'exponential', delay: 1000 });
    expect(job?.opts.removeOnComplete).toEqual({ age: 86_400, count: 10_000 });
    expect(job?.opts.removeOnFail).toEqual({ age: 7 * 86_400 });
  });

  it('keeps ten signals for one VM as one incident and one job, recording them on the incident', async () => {
    const { sink, queue, store } = setup();
    const kinds: Signal['kind'][] = ['cryptoState', 'event', 'alarm', 'powerOnFailure', 'event', 'reconcile', 'cryptoState', 'event', 'alarm', 'event'];
    const submit = (k: Signal['kind'], i: number) => sink.submit({ vm, signal: signal(k), mode: i === 5 ? 'level' : 'event', lockTime: new Date(), stillLeased: leased });
    // The first opens; the other nine race each other.
    const results = [await submit(kinds[0]!, 0), ...(await Promise.all(kinds.slice(1).map((k, i) => submit(k, i + 1))))];
    expect(new Set(results.map((r) => r.id))).toEqual(new Set(['vc1.vm-7.1']));
    expect(results.filter((r) => r.outcome === 'opened')).toHaveLength(1);
    expect(await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')).toMatchObject({ waiting: 1 });
    const inc = await store.require('vc1.vm-7.1');
    expect(inc.signals).toBe(9); // the level re-read of an open incident adds nothing
  });

  it('re-adds the job of an open incident when the queue lost it', async () => {
    const { sink, queue } = setup();
    await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    await queue.obliterate({ force: true });
    expect(await queue.getJob('vc1.vm-7.1')).toBeUndefined();
    const r = await sink.submit({ vm, signal: signal('reconcile'), mode: 'level', lockTime: new Date(), stillLeased: leased });
    expect(r.outcome).toBe('already-open');
    expect((await queue.getJob('vc1.vm-7.1'))?.data.incidentId).toBe('vc1.vm-7.1');
  });

  it('opens a new incident with a new id for a new lock after the last one closed', async () => {
    const { sink, store, queue } = setup();
    await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    await store.close('vc1.vm-7.1', 'resolved', 'unlocked');
    await new Promise((r) => setTimeout(r, 5));
    const r = await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    expect(r).toEqual({ outcome: 'opened', id: 'vc1.vm-7.2' });
    expect(await queue.getJob('vc1.vm-7.2')).toBeDefined();
  });

  it('does not reopen for a signal from before the close (a replayed event)', async () => {
    const { sink, store } = setup();
    const lockTime = new Date(Date.now() - 60_000);
    await sink.submit({ vm, signal: signal('event', lockTime), mode: 'event', lockTime, stillLeased: leased });
    await store.close('vc1.vm-7.1', 'resolved', 'unlocked');
    const r = await sink.submit({ vm, signal: signal('event', lockTime), mode: 'event', lockTime, stillLeased: leased });
    expect(r).toEqual({ outcome: 'stale', id: 'vc1.vm-7.1' });
    expect(await store.findOpen('vc1', 'vm-7')).toBeNull();
  });

  it('waits a reconcile interval before reopening a still-locked VM after an escalation, but not after a new lock', async () => {
    const { sink, store } = setup('5m');
    await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    await store.close('vc1.vm-7.1', 'escalated', 'key missing in KMS');
    await new Promise((r) => setTimeout(r, 5));
    const level = await sink.submit({ vm, signal: signal('reconcile'), mode: 'level', lockTime: new Date(), stillLeased: leased });
    expect(level.outcome).toBe('cooldown');
    const edge = await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
    expect(edge).toEqual({ outcome: 'opened', id: 'vc1.vm-7.2' });
  });

  it('refuses to write anything when the lease is lost (fencing)', async () => {
    const { sink, store, queue } = setup();
    const r = await sink.submit({ vm, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: async () => false });
    expect(r.outcome).toBe('lease-lost');
    expect(await store.findOpen('vc1', 'vm-7')).toBeNull();
    expect(await queue.count()).toBe(0);
  });
});

describe('incident sink, bad input', () => {
  it('drops a signal whose VM moref cannot make an incident/job id, without throwing', async () => {
    const { sink, store, queue } = setup();
    for (const moref of ['vm:1', '', 'x'.repeat(81), 'vm 1']) {
      const r = await sink.submit({ vm: { moref, name: 'x' }, signal: signal(), mode: 'edge', lockTime: new Date(), stillLeased: leased });
      expect(r.outcome).toBe('invalid');
    }
    expect(await store.list()).toEqual([]);
    expect(await queue.count()).toBe(0);
  });
});
