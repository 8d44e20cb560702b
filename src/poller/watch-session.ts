import type { VsphereApi, EventCollector } from '../vsphere/api.ts';
import type { ObjectUpdate, VimEvent, VmStateSummary } from '../vsphere/types.ts';
import type { IncidentStore } from '../incidents/store.ts';
import type { Signal } from '../incidents/model.ts';
import type { Config, VcenterConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { errorMessage, PayloadError } from '../errors.ts';
import { VmCache, WATCHED_VM_PATHS } from './vm-cache.ts';
import { vmCondition, type VmCondition } from './vm-condition.ts';
import { classifyEvent, WATCHED_EVENT_TYPE_IDS, type EventHint } from './event-hints.ts';
import { advance, isHandled, type Checkpoint, type CheckpointStore } from './checkpoint.ts';
import { pickLockedAlarms } from './locked-alarms.ts';
import type { IncidentSink, SignalMode, SubmitOutcome } from './incident-sink.ts';

/** Signals submitted at once (Redis round trips overlap; a storm batch is not processed one by one). */
const SUBMIT_CONCURRENCY = 64;
/** Event keys remembered within one session, on top of the checkpoint. */
const SEEN_KEYS_MAX = 20_000;
/** Delay of the extra reconciliation an unexplained alarm event asks for (batches a burst). */
const RECONCILE_SOON_MS = 2_000;
/**
 * Event reads start at most this often: in a storm the collector's latestPage
 * changes all the time, and events are only hints (the watched state opens
 * the incidents), so one read a second serves them all. A change after a quiet
 * second is read at once.
 */
const EVENT_READ_GAP_MS = 1_000;
/**
 * After an update, the next WaitForUpdatesEx starts no sooner than this after
 * the update arrived: a storm's changes then come in batches (fewer calls,
 * less parsing), while a lone change is still seen at once.
 */
const WATCH_GAP_MS = 100;

export interface SessionDeps {
  vc: VcenterConfig;
  config: Config;
  client: VsphereApi;
  sink: IncidentSink;
  store: IncidentStore;
  checkpoints: CheckpointStore;
  logger: Logger;
  stillLeased: () => Promise<boolean>;
  /** Called after each successful update batch. */
  onAlive: (state: string) => void;
}

export interface SessionCounters {
  updates: number;
  eventsRead: number;
  reconciliations: number;
  outcomes: Partial<Record<SubmitOutcome, number>>;
}

/**
 * One logged-in stretch of polling a vCenter, from (re)connect to the first
 * error, session renewal, lease loss or stop. Each start rebuilds everything
 * that belongs to a vCenter session (event collector, property collector,
 * filters, view) and reconciles first.
 *
 * Detection design (the idle budget is ≤ 2 SOAP calls/min per vCenter):
 * ONE WaitForUpdatesEx (maxWaitSeconds = poller.waitMax) on a private
 * PropertyCollector with two filters: the VM ContainerView (the crypto
 * properties) and the EventHistoryCollector's `latestPage`. While idle that is
 * 1 call per waitMax; ReadNextEvents runs only when `latestPage` changed. If
 * the client does not report `latestPage` (no alsoWatch), events are read on
 * a tick of waitMax (2 calls/min) and whenever a VM's state changes.
 * Reconciliation (listVmStates + GetAlarm) runs at start and every
 * poller.reconcileInterval and opens incidents for every incident-worthy VM
 * that has none, whatever the events said.
 */
export class WatchSession {
  readonly #d: SessionDeps;
  readonly #cycle: AbortController;
  readonly #cache = new VmCache();
  readonly #log: Logger;
  #lockedAlarms = new Set<string>();
  #collector: EventCollector | undefined;
  #checkpoint: Checkpoint | undefined;
  #seen = new Set<number>();
  #draining = false;
  #drainAgain = false;
  #collectorInWatch = false;
  #timers: NodeJS.Timeout[] = [];
  #reconcilePending: NodeJS.Timeout | undefined;
  #drainPending: NodeJS.Timeout | undefined;
  #lastDrainAt = 0;
  #backgroundError: unknown;
  readonly counters: SessionCounters = { updates: 0, eventsRead: 0, reconciliations: 0, outcomes: {} };
  eventSource: 'pending' | 'latestPage' | 'tick' = 'pending';

  constructor(deps: SessionDeps, cycle: AbortController) {
    this.#d = deps;
    this.#cycle = cycle;
    this.#log = deps.logger.child({ vcenter: deps.vc.name });
  }

  get cache(): VmCache {
    return this.#cache;
  }

  get checkpoint(): Checkpoint | undefined {
    return this.#checkpoint;
  }

  /** Runs until the cycle aborts (resolves) or something fails (rejects). */
  async run(): Promise<void> {
    const { client, config } = this.#d;
    try {
      await this.#discoverAlarms();
      this.#checkpoint = await this.#loadCheckpoint();
      const beginTime = new Date(this.#checkpoint ? this.#checkpoint.time : Date.now() - config.poller.eventReplay);
      this.#collector = await client.createEventCollector({ eventTypeId: [...WATCHED_EVENT_TYPE_IDS], beginTime, maxCount: config.poller.eventPageSize });
      await this.#reconcile('start');
      this.#d.onAlive('catching up on events');
      await this.#drainEvents();
      this.#every(config.poller.reconcileInterval, () => this.#reconcile('periodic'));
      await client.watchObjects(
        {
          type: 'VirtualMachine',
          paths: WATCHED_VM_PATHS,
          alsoWatch: [{ obj: this.#collector.moref, paths: ['latestPage'] }],
        },
        (updates, meta) => this.#onUpdate(updates, meta.initial),
        {
          signal: this.#cycle.signal,
          maxWaitSeconds: Math.max(1, Math.round(config.poller.waitMax / 1000)),
          // Page the initial 10k-VM snapshot: smaller responses keep the poller's peak memory down.
          maxObjectUpdates: 1000,
        },
      );
      if (this.#backgroundError !== undefined) throw this.#backgroundError;
    } catch (err) {
      throw this.#backgroundError ?? err;
    } finally {
      for (const t of this.#timers) clearInterval(t);
      this.#timers = [];
      clearTimeout(this.#reconcilePending);
      this.#reconcilePending = undefined;
      clearTimeout(this.#drainPending);
      this.#drainPending = undefined;
      // Best effort and not awaited: after a session loss or a vCenter restart
      // the collector is already gone, and a dead vCenter must not hold us up.
      const collector = this.#collector;
      this.#collector = undefined;
      collector?.destroy().catch(() => undefined);
    }
  }

  /** Starts a background task every `ms`; its failure ends the session. */
  #every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => void this.#background(fn), ms);
    this.#timers.push(t);
  }

  async #background(fn: () => Promise<void>): Promise<void> {
    if (this.#cycle.signal.aborted) return;
    try {
      await fn();
    } catch (err) {
      if (this.#cycle.signal.aborted) return;
      this.#backgroundError ??= err;
      this.#cycle.abort(err);
    }
  }

  async #discoverAlarms(): Promise<void> {
    const alarms = await this.#d.client.getAlarms(this.#d.client.serviceContent.rootFolder);
    const picked = pickLockedAlarms(alarms, this.#d.vc.lockedAlarmName);
    const next = new Set(picked.map((m) => m.value));
    if ([...next].join() !== [...this.#lockedAlarms].join()) {
      this.#log.info({ alarms: [...next], configuredName: this.#d.vc.lockedAlarmName }, next.size ? 'locked-VM alarm found' : 'no locked-VM alarm found; watching crypto state and events only');
    }
    this.#lockedAlarms = next;
  }

  async #loadCheckpoint(): Promise<Checkpoint | undefined> {
    try {
      return await this.#d.checkpoints.load(this.#d.vc.name);
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, `stored event checkpoint unreadable; replaying the last ${this.#d.config.poller.eventReplay} ms of events`);
      return undefined;
    }
  }

  /** One extra reconciliation shortly (several requests share it). */
  #reconcileSoon(): void {
    if (this.#reconcilePending || this.#cycle.signal.aborted) return;
    this.#reconcilePending = setTimeout(() => {
      this.#reconcilePending = undefined;
      void this.#background(() => this.#reconcile('alarm event'));
    }, RECONCILE_SOON_MS);
  }

  /** Full state read: the level-triggered safety net. */
  async #reconcile(reason: 'start' | 'periodic' | 'alarm event'): Promise<void> {
    if (reason === 'periodic') await this.#discoverAlarms();
    const observedAt = new Date();
    const vms = await this.#d.client.listVmStates();
    this.#cache.replaceAll(vms, observedAt.getTime());
    this.counters.reconciliations++;
    const found: { vm: VmStateSummary; cond: VmCondition }[] = [];
    for (const vm of vms) {
      const cond = vmCondition(vm, this.#lockedAlarms);
      if (cond) found.push({ vm, cond });
    }
    await this.#submitAll(
      found.map(({ vm, cond }) => () =>
        this.#submit(vm, { kind: 'reconcile', at: observedAt.toISOString(), detail: `${reason} reconciliation: ${cond.detail}` }, 'level', cond.since ?? observedAt),
      ),
    );
    this.#log.debug({ vms: vms.length, incidentWorthy: found.length, reason }, 'reconciled');
  }

  async #onUpdate(updates: ObjectUpdate[], initial: boolean): Promise<void> {
    const arrivedAt = new Date();
    this.counters.updates++;
    let eventsChanged = false;
    let stateChanged = false;
    const work: (() => Promise<unknown>)[] = [];
    const collector = this.#collector?.moref;
    for (const u of updates) {
      if (collector && u.obj.value === collector.value) {
        this.#collectorInWatch = true;
        eventsChanged = true;
        continue;
      }
      if (u.obj.type && u.obj.type !== 'VirtualMachine') continue;
      const { before, after, unreadable } = this.#cache.apply(u);
      if (unreadable.length) this.#log.warn({ vm: u.obj.value, paths: unreadable }, 'VM update with properties the poller cannot read; reconciliation will re-read them');
      if (!after) continue;
      const cond = vmCondition(after, this.#lockedAlarms);
      if (!cond) continue;
      const prev = before ? vmCondition(before, this.#lockedAlarms) : undefined;
      const level = initial || !before;
      if (!level && prev && prev.kind === cond.kind) continue;
      stateChanged = true;
      const signal: Signal = { kind: cond.kind, at: arrivedAt.toISOString(), detail: cond.detail };
      work.push(() => this.#submit(after, signal, level ? 'level' : 'edge', level ? cond.since ?? arrivedAt : arrivedAt));
    }
    await this.#submitAll(work);
    if (initial) {
      this.eventSource = this.#collectorInWatch ? 'latestPage' : 'tick';
      if (!this.#collectorInWatch) {
        this.#log.warn('the client did not report the event collector\'s latestPage; reading events every poller.waitMax instead');
        this.#every(this.#d.config.poller.waitMax, () => this.#drainEvents());
      }
    }
    this.#d.onAlive('watching');
    if (eventsChanged || (stateChanged && !this.#collectorInWatch)) await (initial ? this.#drainEvents() : this.#drainEventsSoon());
    const pause = arrivedAt.getTime() + WATCH_GAP_MS - Date.now();
    if (!initial && pause > 0 && !this.#cycle.signal.aborted) await new Promise((r) => setTimeout(r, pause));
  }

  /** Reads events now, or once EVENT_READ_GAP_MS has passed since the last read began (one pending read serves every change meanwhile). */
  async #drainEventsSoon(): Promise<void> {
    const wait = this.#lastDrainAt + EVENT_READ_GAP_MS - Date.now();
    if (wait <= 0) return this.#drainEvents();
    if (this.#drainPending || this.#cycle.signal.aborted) return;
    this.#drainPending = setTimeout(() => {
      this.#drainPending = undefined;
      void this.#background(() => this.#drainEvents());
    }, wait);
  }

  /** ReadNextEvents until empty; one reader at a time (a second request re-runs the loop). */
  async #drainEvents(): Promise<void> {
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    try {
      do {
        this.#drainAgain = false;
        this.#lastDrainAt = Date.now();
        for (;;) {
          const collector = this.#collector;
          if (!collector || this.#cycle.signal.aborted) return;
          const page = await collector.readNext(this.#d.config.poller.eventPageSize);
          if (page.length === 0) break;
          await this.#handlePage(page);
        }
      } while (this.#drainAgain);
    } finally {
      this.#draining = false;
    }
  }

  async #handlePage(page: VimEvent[]): Promise<void> {
    this.counters.eventsRead += page.length;
    const fresh = page.filter((ev) => !this.#seen.has(ev.key) && !isHandled(this.#checkpoint, ev));
    // Each event on its own: one that cannot be read is logged, never loses the rest of the page.
    await this.#submitAll(fresh.map((ev) => () => this.#handleEvent(ev)));
    for (const ev of page) this.#seen.add(ev.key);
    if (this.#seen.size > SEEN_KEYS_MAX) this.#seen = new Set([...this.#seen].slice(-SEEN_KEYS_MAX / 2));
    const next = advance(this.#checkpoint, page);
    if (next && (next.time !== this.#checkpoint?.time || next.keys.length !== this.#checkpoint.keys.length)) {
      await this.#d.checkpoints.save(this.#d.vc.name, next);
      this.#checkpoint = next;
    }
  }

  async #handleEvent(ev: VimEvent): Promise<void> {
    try {
      await this.#handleEventUnsafe(ev);
    } catch (err) {
      // A payload that cannot be valid would fail forever: skip it. Anything
      // else (Redis down) ends the session so the page is read again.
      if (!(err instanceof PayloadError)) throw err;
      this.#log.error({ eventKey: ev.key, type: ev.type, err: errorMessage(err) }, 'event skipped: it cannot make a valid incident job');
    }
  }

  async #handleEventUnsafe(ev: VimEvent): Promise<void> {
    let hint: EventHint;
    try {
      hint = classifyEvent(ev, this.#lockedAlarms);
    } catch (err) {
      this.#log.warn({ eventKey: ev.key, type: ev.type, err: errorMessage(err) }, 'unreadable event skipped');
      return;
    }
    if (hint.kind === 'ignored') {
      this.#log.debug({ eventKey: ev.key, type: ev.type, why: hint.why }, 'event ignored');
      return;
    }
    const created = ev.createdTime instanceof Date && !Number.isNaN(ev.createdTime.getTime()) ? ev.createdTime : new Date();
    const vm = this.#cache.get(hint.vm.value);
    const at = created.toISOString();
    if (hint.kind === 'unlock') {
      const open = await this.#d.store.findOpen(this.#d.vc.name, hint.vm.value);
      if (open) await this.#d.store.appendTimeline(open, { at, type: 'signal', message: `event: ${hint.detail}`, data: { kind: 'event', at, detail: hint.detail, eventKey: ev.key } });
      return;
    }
    if (!vm) {
      this.#log.debug({ eventKey: ev.key, vm: hint.vm.value }, 'event about a VM not in view; ignored');
      return;
    }
    if (hint.kind === 'powerOnFailure') {
      const encrypted = vm.keyId !== undefined || hint.keyMissing;
      if (!encrypted || vm.powerState === 'poweredOn') {
        this.#log.debug({ eventKey: ev.key, vm: vm.moref.value, keyMissing: hint.keyMissing, powerState: vm.powerState }, 'power-on failure not about a missing key (or the VM runs now); ignored');
        return;
      }
      await this.#submit(vm, { kind: 'powerOnFailure', at, detail: hint.detail, eventKey: ev.key }, 'event', created);
      return;
    }
    if (hint.kind === 'alarm' && !hint.firing) return;
    // A lock hint counts only when the watched state agrees (events are hints).
    if (!vmCondition(vm, this.#lockedAlarms)) {
      if (hint.kind === 'alarm') {
        // vCenter may send no PropertyCollector update for an alarm status
        // change: re-read the truth soon instead of trusting either side.
        this.#log.debug({ eventKey: ev.key, vm: vm.moref.value }, 'locked-VM alarm fired but the watched state does not show it; reconciling');
        this.#reconcileSoon();
        return;
      }
      this.#log.debug({ eventKey: ev.key, vm: vm.moref.value, detail: hint.detail }, 'lock event but the VM is not locked now; ignored');
      return;
    }
    await this.#submit(vm, { kind: hint.kind === 'alarm' ? 'alarm' : 'event', at, detail: hint.detail, eventKey: ev.key }, 'event', created);
  }

  async #submit(vm: VmStateSummary, signal: Signal, mode: SignalMode, lockTime: Date): Promise<SubmitOutcome> {
    let result: { outcome: SubmitOutcome; id?: string };
    try {
      result = await this.#d.sink.submit({
        vm: { moref: vm.moref.value, name: vm.name || vm.moref.value },
        signal,
        mode,
        lockTime,
        stillLeased: this.#d.stillLeased,
      });
    } catch (err) {
      // A job that can never be valid must not stop the vCenter's polling; Redis errors must.
      if (!(err instanceof PayloadError)) throw err;
      this.#log.error({ vm: vm.moref.value, err: errorMessage(err) }, 'signal dropped: it cannot make a valid incident job');
      result = { outcome: 'invalid' };
    }
    const { outcome, id } = result;
    this.counters.outcomes[outcome] = (this.counters.outcomes[outcome] ?? 0) + 1;
    if (outcome === 'lease-lost') this.#cycle.abort(new Error('lease lost'));
    else if (outcome !== 'already-open') this.#log.debug({ vm: vm.moref.value, incidentId: id, outcome, signal: signal.kind, mode }, 'signal');
    return outcome;
  }

  /** Runs the tasks with bounded concurrency; the first failure is thrown after all settled. */
  async #submitAll(tasks: (() => Promise<unknown>)[]): Promise<void> {
    let firstError: unknown;
    for (let i = 0; i < tasks.length; i += SUBMIT_CONCURRENCY) {
      const results = await Promise.allSettled(tasks.slice(i, i + SUBMIT_CONCURRENCY).map((t) => t()));
      for (const r of results) if (r.status === 'rejected') firstError ??= r.reason;
    }
    if (firstError !== undefined) throw firstError;
  }
}
