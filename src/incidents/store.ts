import type { Redis } from 'ioredis';
import {
  isClosed,
  makeIncidentId,
  type ActionRecord,
  type ClosedState,
  type Incident,
  type IncidentState,
  type Signal,
  type TimelineEntry,
} from './model.ts';
import { VmlockError } from '../errors.ts';

/**
 * Incidents and their timelines in Redis.
 *
 * Keys (P = configured prefix):
 *   P:incident:<id>           hash: scalar fields, JSON for causes/advisories/actions
 *   P:incident:<id>:timeline  list of TimelineEntry JSON, oldest first
 *   P:open:<vcenter>:<moref>  id of the VM's open incident (at most one)
 *   P:seq:<vcenter>:<moref>   counter behind the id's last part
 *   P:incidents               sorted set of ids by opening time (ms)
 *
 * Opening is one Lua script, so two pollers (or a poller and a person) can
 * never open two incidents for one VM.
 */
const OPEN_OR_JOIN = `
local id = redis.call('GET', KEYS[1])
if id then
  redis.call('HINCRBY', ARGV[7] .. id, 'signals', 1)
  redis.call('RPUSH', ARGV[7] .. id .. ':timeline', ARGV[5])
  return {id, 0}
end
local seq = redis.call('INCR', KEYS[2])
id = ARGV[1] .. '.' .. ARGV[2] .. '.' .. seq
redis.call('SET', KEYS[1], id)
redis.call('HSET', ARGV[7] .. id, 'id', id, 'vcenter', ARGV[1], 'vmMoref', ARGV[2], 'vmName', ARGV[3],
  'state', 'open', 'openedAt', ARGV[4], 'causes', '[]', 'advisories', '[]', 'actions', '[]', 'signals', 1)
redis.call('RPUSH', ARGV[7] .. id .. ':timeline', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[6], id)
return {id, 1}
`;

/** Releases the open slot only if it still points at this incident. */
const CLOSE = `
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closedAt', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('RPUSH', KEYS[3], ARGV[4])
return 1
`;

export class IncidentNotFoundError extends VmlockError {
  constructor(id: string) {
    super('VMLOCK_ERR_NOT_FOUND', `no incident ${id}`);
    this.name = 'IncidentNotFoundError';
  }
}

export class IncidentStore {
  readonly #redis: Redis;
  readonly #p: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#p = `${prefix}:`;
  }

  #key(id: string): string {
    return `${this.#p}incident:${id}`;
  }

  /** Opens a new incident for the VM, or joins the signal to its open one. */
  async openOrJoin(
    vcenter: string,
    vm: { moref: string; name: string },
    signal: Signal,
  ): Promise<{ id: string; created: boolean }> {
    const entry: TimelineEntry = { at: signal.at, type: 'signal', message: `${signal.kind}: ${signal.detail}`, data: signal };
    const [id, created] = (await this.#redis.eval(
      OPEN_OR_JOIN,
      3,
      `${this.#p}open:${vcenter}:${vm.moref}`,
      `${this.#p}seq:${vcenter}:${vm.moref}`,
      `${this.#p}incidents`,
      vcenter,
      vm.moref,
      vm.name,
      signal.at,
      JSON.stringify(entry),
      String(Date.parse(signal.at) || Date.now()),
      `${this.#p}incident:`,
    )) as [string, number];
    return { id, created: created === 1 };
  }

  /** The id of the VM's open incident, if any. */
  async findOpen(vcenter: string, moref: string): Promise<string | null> {
    return this.#redis.get(`${this.#p}open:${vcenter}:${moref}`);
  }

  /** The VM's most recent incident, open or closed (the poller checks when it closed). */
  async findLatest(vcenter: string, moref: string, opts: { timeline?: boolean } = { timeline: false }): Promise<Incident | null> {
    const seq = await this.#redis.get(`${this.#p}seq:${vcenter}:${moref}`);
    if (!seq || !/^\d+$/.test(seq)) return null;
    return this.get(makeIncidentId(vcenter, moref, Number(seq)), opts);
  }

  async get(id: string, opts: { timeline?: boolean } = { timeline: true }): Promise<Incident | null> {
    const h = await this.#redis.hgetall(this.#key(id));
    if (!h.id) return null;
    const timeline =
      opts.timeline === false
        ? []
        : (await this.#redis.lrange(`${this.#key(id)}:timeline`, 0, -1)).map((t) => JSON.parse(t) as TimelineEntry);
    return fromHash(h, timeline);
  }

  async require(id: string): Promise<Incident> {
    const inc = await this.get(id);
    if (!inc) throw new IncidentNotFoundError(id);
    return inc;
  }

  /**
   * Newest first: the `limit` newest incidents that match `state` and
   * `vcenter` (filters apply before the limit). Reads the index page by page,
   * each page in one pipelined round trip, until enough match.
   */
  async list(opts: { limit?: number; state?: IncidentState; vcenter?: string; timeline?: boolean } = {}): Promise<Incident[]> {
    const limit = opts.limit ?? 1000;
    const withTimeline = opts.timeline ?? true;
    const filtered = opts.state !== undefined || opts.vcenter !== undefined;
    const pageSize = filtered ? Math.max(limit, 500) : limit;
    const out: Incident[] = [];
    for (let start = 0; out.length < limit; start += pageSize) {
      const ids = await this.#redis.zrevrange(`${this.#p}incidents`, start, start + pageSize - 1);
      if (ids.length === 0) break;
      // One round trip per page, not two per incident.
      const pipeline = this.#redis.pipeline();
      for (const id of ids) {
        pipeline.hgetall(this.#key(id));
        if (withTimeline) pipeline.lrange(`${this.#key(id)}:timeline`, 0, -1);
      }
      const replies = (await pipeline.exec()) ?? [];
      const step = withTimeline ? 2 : 1;
      for (let i = 0; i < ids.length && out.length < limit; i++) {
        const [err, h] = replies[i * step] ?? [null, {}];
        if (err) throw err;
        const hash = h as Record<string, string>;
        if (!hash.id) continue;
        if (opts.state && hash.state !== opts.state) continue;
        if (opts.vcenter && hash.vcenter !== opts.vcenter) continue;
        const raw = withTimeline ? ((replies[i * step + 1]?.[1] as string[] | undefined) ?? []) : [];
        out.push(fromHash(hash, raw.map((t) => JSON.parse(t) as TimelineEntry)));
      }
      if (ids.length < pageSize) break;
    }
    return out;
  }

  async appendTimeline(id: string, entry: Omit<TimelineEntry, 'at'> & { at?: string }): Promise<void> {
    const full: TimelineEntry = { at: entry.at ?? new Date().toISOString(), type: entry.type, message: entry.message, data: entry.data };
    await this.#redis.rpush(`${this.#key(id)}:timeline`, JSON.stringify(full));
  }

  /** Moves an open incident to another open state; closing goes through close(). */
  async setState(id: string, state: IncidentState, message?: string): Promise<void> {
    if (isClosed(state)) throw new VmlockError('VMLOCK_ERR_USAGE', `use close() to move ${id} to ${state}`);
    await this.#redis
      .multi()
      .hset(this.#key(id), 'state', state)
      .rpush(`${this.#key(id)}:timeline`, JSON.stringify({ at: new Date().toISOString(), type: 'state', message: message ?? state, data: { state } }))
      .exec();
  }

  async update(
    id: string,
    patch: Partial<Pick<Incident, 'causes' | 'advisories' | 'actions' | 'humanAction' | 'approvedBy'>>,
  ): Promise<void> {
    const fields: Record<string, string> = {};
    if (patch.causes) fields.causes = JSON.stringify(patch.causes);
    if (patch.advisories) fields.advisories = JSON.stringify(patch.advisories);
    if (patch.actions) fields.actions = JSON.stringify(patch.actions);
    if (patch.humanAction !== undefined) fields.humanAction = patch.humanAction;
    if (patch.approvedBy !== undefined) fields.approvedBy = patch.approvedBy;
    if (Object.keys(fields).length) await this.#redis.hset(this.#key(id), fields);
  }

  /** Inserts or replaces the action at `index` (actions are kept in plan order). */
  async recordAction(id: string, index: number, action: ActionRecord): Promise<void> {
    const raw = await this.#redis.hget(this.#key(id), 'actions');
    const actions = raw ? (JSON.parse(raw) as ActionRecord[]) : [];
    actions[index] = action;
    await this.#redis.hset(this.#key(id), 'actions', JSON.stringify(actions));
  }

  /** Ends the incident; a later lock of the same VM opens a new one. */
  async close(id: string, outcome: ClosedState, message: string, humanAction?: string): Promise<void> {
    const h = await this.#redis.hmget(this.#key(id), 'vcenter', 'vmMoref');
    if (!h[0] || !h[1]) throw new IncidentNotFoundError(id);
    if (humanAction !== undefined) await this.#redis.hset(this.#key(id), 'humanAction', humanAction);
    const at = new Date().toISOString();
    await this.#redis.eval(
      CLOSE,
      3,
      this.#key(id),
      `${this.#p}open:${h[0]}:${h[1]}`,
      `${this.#key(id)}:timeline`,
      outcome,
      at,
      id,
      JSON.stringify({ at, type: 'state', message, data: { state: outcome } }),
    );
  }

  /** Records who approved the incident's pending actions. */
  async approve(id: string, by: string): Promise<Incident> {
    const inc = await this.require(id);
    if (inc.state !== 'awaiting-approval') {
      throw new VmlockError('VMLOCK_ERR_USAGE', `incident ${id} is ${inc.state}, not awaiting approval`);
    }
    await this.update(id, { approvedBy: by });
    await this.appendTimeline(id, { type: 'approval', message: `approved by ${by}`, data: { by } });
    return this.require(id);
  }
}

function fromHash(h: Record<string, string>, timeline: TimelineEntry[]): Incident {
  const inc: Incident = {
    id: h.id ?? '',
    vcenter: h.vcenter ?? '',
    vm: { moref: h.vmMoref ?? '', name: h.vmName ?? '' },
    state: (h.state ?? 'open') as IncidentState,
    openedAt: h.openedAt ?? '',
    causes: JSON.parse(h.causes ?? '[]') as Incident['causes'],
    advisories: JSON.parse(h.advisories ?? '[]') as Incident['advisories'],
    actions: (JSON.parse(h.actions ?? '[]') as (ActionRecord | null)[]).filter((a): a is ActionRecord => a !== null),
    signals: Number(h.signals ?? 0),
    timeline,
  };
  if (h.closedAt) inc.closedAt = h.closedAt;
  if (h.humanAction) inc.humanAction = h.humanAction;
  if (h.approvedBy) inc.approvedBy = h.approvedBy;
  return inc;
}
