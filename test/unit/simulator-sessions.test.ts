import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../src/simulator/sessions.ts';

describe('simulator sessions', () => {
  it('expire after the idle timeout; the sweep ends idle ones but not a blocked wait', async () => {
    const store = new SessionStore(50);
    const idle = store.create('u', '127.0.0.1', 'test');
    const waiting = store.create('u', '127.0.0.1', 'test');
    const access = { typeOf: () => undefined, get: () => undefined, allProps: () => [], isA: () => false };
    const col = waiting.collector('propertyCollector', access);
    const wait = col?.waitForUpdates('', 5, undefined).catch((e: Error & { type: string }) => e.type);
    await new Promise((r) => setTimeout(r, 80));
    expect(store.size).toBe(0);
    expect(store.sweep()).toBe(1);
    expect(store.get(idle.key)).toBeUndefined();
    col?.cancelWait();
    expect(await wait).toBe('RequestCanceled');
    expect(store.get(waiting.key)).toBeUndefined();
  });
});
