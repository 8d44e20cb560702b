import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { IncidentStore } from '../../src/incidents/store.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import type { Signal } from '../../src/incidents/model.ts';

const signal = (detail: string): Signal => ({ kind: 'cryptoState', at: new Date().toISOString(), detail });

describe('incident store on real Redis', () => {
  let redis: Redis;
  let store: IncidentStore;
  const prefix = uniquePrefix('store');

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    store = new IncidentStore(redis, prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('keeps one open incident per VM while signals join it', async () => {
    const first = await store.openOrJoin('vc1', { moref: 'vm-1', name: 'web' }, signal('locked'));
    expect(first).toEqual({ id: 'vc1.vm-1.1', created: true });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.openOrJoin('vc1', { moref: 'vm-1', name: 'web' }, signal(`again ${i}`))),
    );
    expect(new Set(results.map((r) => r.id))).toEqual(new Set(['vc1.vm-1.1']));
    expect(results.every((r) => !r.created)).toBe(true);
    const inc = await store.require('vc1.vm-1.1');
    expect(inc.signals).toBe(11);
    expect(inc.timeline.filter((t) => t.type === 'signal')).toHaveLength(11);
    expect(inc.state).toBe('open');
  });

  it('opens a new incident with the next number after the old one closed', async () => {
    await store.close('vc1.vm-1.1', 'resolved', 'unlocked');
    expect(await store.findOpen('vc1', 'vm-1')).toBeNull();
    const again = await store.openOrJoin('vc1', { moref: 'vm-1', name: 'web' }, signal('locked again'));
    expect(again).toEqual({ id: 'vc1.vm-1.2', created: true });
    const old = await store.require('vc1.vm-1.1');
    expect(old.state).toBe('resolved');
    expect(old.closedAt).toBeDefined();
    const list = await store.list({ vcenter: 'vc1' });
    expect(list.map((i) => i.id)).toEqual(['vc1.vm-1.2', 'vc1.vm-1.1']);
    expect(list[1]?.timeline.map((t) => t.type)).toEqual([...Array<string>(11).fill('signal'), 'state']);
    expect(list[1]?.state).toBe('resolved');
    const bare = await store.list({ vcenter: 'vc1', timeline: false, state: 'resolved' });
    expect(bare.map((i) => [i.id, i.timeline.length, i.signals])).toEqual([['vc1.vm-1.1', 0, 11]]);
    // The filter applies before the limit: the newest resolved one, though a newer open one exists.
    expect((await store.list({ state: 'resolved', limit: 1, timeline: false })).map((i) => i.id)).toEqual(['vc1.vm-1.1']);
    expect((await store.list({ limit: 1, timeline: false })).map((i) => i.id)).toEqual(['vc1.vm-1.2']);
  });

  it('records actions in plan order, causes and approval', async () => {
    const { id } = await store.openOrJoin('vc1', { moref: 'vm-2', name: 'db' }, signal('locked'));
    await store.update(id, { causes: [{ code: 'keys-missing-on-host', message: 'cache cleared' }] });
    await store.recordAction(id, 1, { kind: 'powerOn', reason: 'was on', state: 'planned' });
    await store.recordAction(id, 0, { kind: 'cryptoUnlock', reason: 'keys in KMS', state: 'succeeded', task: 'task-1' });
    await expect(store.approve(id, 'alice')).rejects.toThrow(/not awaiting approval/);
    await store.setState(id, 'awaiting-approval');
    const approved = await store.approve(id, 'alice');
    expect(approved.approvedBy).toBe('alice');
    expect(approved.actions.map((a) => a.kind)).toEqual(['cryptoUnlock', 'powerOn']);
    expect(approved.causes[0]?.code).toBe('keys-missing-on-host');
    await expect(store.setState(id, 'resolved')).rejects.toThrow(/close/);
  });
});
