import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Where the event reader stopped, per vCenter: the newest event time handled
 * and the keys of the events handled AT that time. Event keys are unique ids,
 * not a sequence (int32, may be negative, pages unordered), so "key > last" is
 * never used: on restart the collector starts at `time` (beginTime) and skips
 * the keys already seen at that exact time; anything newer is new.
 *
 * Advanced only after the page's signals were handled (at-least-once; the
 * incident store makes a repeat a join, never a second incident).
 */
export interface Checkpoint {
  /** ms since epoch (vCenter's clock). */
  time: number;
  keys: number[];
}

/** Keys kept for one timestamp; a storm of more events in the same ms than this is not expected. */
const MAX_KEYS = 10_000;

const checkpointSchema = z
  .object({ time: z.number().int().nonnegative(), keys: z.array(z.number().int()).max(MAX_KEYS) })
  .strict();

export function isHandled(cp: Checkpoint | undefined, ev: { key: number; createdTime: Date }): boolean {
  if (!cp) return false;
  const t = ev.createdTime.getTime();
  if (Number.isNaN(t)) return false;
  // Older events are not asked for (beginTime); if one shows up anyway, handling
  // it again is harmless (a join) while skipping it could miss a lock.
  return t === cp.time && cp.keys.includes(ev.key);
}

/** The checkpoint after handling `events` (any order). Never moves back in time. */
export function advance(cp: Checkpoint | undefined, events: readonly { key: number; createdTime: Date }[]): Checkpoint | undefined {
  let next = cp ? { time: cp.time, keys: [...cp.keys] } : undefined;
  for (const ev of events) {
    const t = ev.createdTime.getTime();
    if (Number.isNaN(t)) continue;
    if (!next || t > next.time) next = { time: t, keys: [ev.key] };
    else if (t === next.time && !next.keys.includes(ev.key)) next.keys.push(ev.key);
  }
  if (next && next.keys.length > MAX_KEYS) next.keys = next.keys.slice(-MAX_KEYS);
  return next;
}

export function serialize(cp: Checkpoint): string {
  return JSON.stringify(cp);
}

/** Parses a stored checkpoint; throws an Error naming what is wrong. */
export function parse(text: string): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('checkpoint is not JSON');
  }
  const r = checkpointSchema.safeParse(raw);
  if (!r.success) throw new Error(`checkpoint: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Redis home of the checkpoints: `<prefix>:poller:checkpoint:<vcenter>`. */
export class CheckpointStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  key(vcenter: string): string {
    return `${this.#prefix}:poller:checkpoint:${vcenter}`;
  }

  /** undefined when none is stored; a corrupt value throws (the caller logs it and replays). */
  async load(vcenter: string): Promise<Checkpoint | undefined> {
    const text = await this.#redis.get(this.key(vcenter));
    return text === null ? undefined : parse(text);
  }

  async save(vcenter: string, cp: Checkpoint): Promise<void> {
    await this.#redis.set(this.key(vcenter), serialize(cp));
  }
}
