import { describe, expect, it } from 'vitest';
import { advance, isHandled, parse, serialize } from '../../src/poller/checkpoint.ts';
import { backoffDelay, reconnectDelay, INVALID_LOGIN_PAUSE_MS } from '../../src/poller/backoff.ts';
import { InvalidLogin, TransportError } from '../../src/vsphere/faults.ts';

const ev = (key: number, iso: string) => ({ key, createdTime: new Date(iso) });
const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';

describe('event checkpoint', () => {
  it('keeps the newest time and the keys seen at that time, whatever the page order', () => {
    const cp = advance(undefined, [ev(5, T2), ev(-3, T1), ev(-7, T2)]);
    expect(cp).toEqual({ time: Date.parse(T2), keys: [5, -7] });
  });

  it('never moves back in time and merges keys of the same time', () => {
    const cp = advance({ time: Date.parse(T2), keys: [5] }, [ev(9, T1), ev(6, T2)]);
    expect(cp).toEqual({ time: Date.parse(T2), keys: [5, 6] });
  });

  it('skips only keys already handled at the checkpoint time (negative keys too), never by key order', () => {
    const cp = { time: Date.parse(T2), keys: [-7, 5] };
    expect(isHandled(cp, ev(-7, T2))).toBe(true);
    expect(isHandled(cp, ev(4, T2))).toBe(false);
    // A smaller (even negative) key at a later time is new.
    expect(isHandled(cp, ev(-100, '2026-01-01T00:00:03.000Z'))).toBe(false);
    expect(isHandled(undefined, ev(1, T1))).toBe(false);
  });

  it('round-trips through its stored form and rejects a corrupt one with a clear message', () => {
    const cp = { time: 1767225602000, keys: [1, -2] };
    expect(parse(serialize(cp))).toEqual(cp);
    expect(() => parse('{nope')).toThrow(/not JSON/);
    expect(() => parse('{"time":"x","keys":[]}')).toThrow(/checkpoint: time/);
    expect(() => parse('{"time":1,"keys":[1.5]}')).toThrow(/keys/);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter and stays under the ceiling', () => {
    expect(backoffDelay(1, 500, 30_000, () => 0)).toBe(500);
    expect(backoffDelay(1, 500, 30_000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(4000);
    expect(backoffDelay(50, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(50, 500, 30_000, () => 0)).toBe(15_000);
  });
});

describe('reconnectDelay', () => {
  it('waits minutes after a rejected login (account lockout), seconds after a network error', () => {
    const rejected = new InvalidLogin('InvalidLogin', 'Cannot complete login due to an incorrect user name or password.');
    expect(reconnectDelay(rejected, 1, 500, 30_000, () => 0.5)).toBe(INVALID_LOGIN_PAUSE_MS);
    expect(reconnectDelay(new TransportError('ECONNREFUSED'), 1, 500, 30_000, () => 0.5)).toBeLessThan(2_000);
  });
});
