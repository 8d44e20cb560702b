import { isObj, str } from './decode.ts';
import { faultFromDecoded } from './fault-parse.ts';
import { InvalidCollectorVersion, ManagedObjectNotFound, NotAuthenticated, TransportError, VimFault } from './faults.ts';
import type { MoRef, ObjectUpdate, TaskInfo, TaskState } from './types.ts';
import type { Logger } from '../log.ts';

/** What the waiter needs from the client (kept narrow so it can be tested alone). */
export interface TaskWaiterOps {
  readonly taskManager: MoRef | undefined;
  CreatePropertyCollector(): Promise<MoRef>;
  DestroyPropertyCollector(collector: MoRef): Promise<void>;
  createTaskFilter(collector: MoRef, target: { taskManager: MoRef } | { task: MoRef }): Promise<MoRef>;
  DestroyPropertyFilter(filter: MoRef): Promise<void>;
  /** WaitForUpdatesEx on the collector: null when nothing changed. */
  waitForUpdates(collector: MoRef, version: string, maxWaitSeconds: number): Promise<{ version: string; truncated: boolean; updates: ObjectUpdate[] } | null>;
}

export const TASK_PATHS = ['info.state', 'info.error', 'info.result', 'info.entity', 'info.name', 'info.descriptionId'] as const;

interface TaskRecord {
  state?: TaskState;
  error?: unknown;
  result?: unknown;
  entity?: MoRef;
  name?: string;
  descriptionId?: string;
  finishedAt?: number;
}

/**
 * Task successes seen by other processes that watch the same vCenter (the
 * worker carries them over Redis). Every worker process waits through its own
 * collector at its own pace; sharing what each sees lets a task's end be
 * noticed by whichever process looks first, without another SOAP call.
 */
export interface TaskCompletionFeed {
  /** Tells the others that these tasks succeeded (fire and forget). */
  publish(tasks: string[]): void;
  /** `onSucceeded` gets task ids another process saw succeed. */
  subscribe(onSucceeded: (tasks: string[]) => void): void;
}

/** Options of one wait. */
export interface WaitOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * Another process's sighting of the task's success is enough (the caller
   * needs neither the result nor this process's own read of it).
   */
  shared?: boolean;
}

interface Waiter {
  task: MoRef;
  shared: boolean;
  resolve: (info: TaskInfo) => void;
  reject: (err: unknown) => void;
  /** Loop rounds completed since this waiter registered without the task being seen. */
  unseenRounds: number;
  fallbackFilter?: MoRef;
}

/**
 * After a round that brought updates but left waiters, the next WaitForUpdatesEx
 * starts no sooner than this after the previous one started: in a storm, task
 * state changes arrive constantly and this batches them into fewer calls (the
 * next call returns at once with everything that changed meanwhile) while a
 * finished task waits about half of it to be seen. Not polling: nothing is
 * asked before.
 */
const COALESCE_MS = 25;

/** Finished tasks remembered so a late waitForTask still resolves. */
const KEEP_FINISHED = 5000;
const KEEP_FINISHED_MS = 30 * 60_000;

/**
 * All task waits of one client share ONE PropertyCollector with ONE filter on
 * TaskManager.recentTask, read by ONE WaitForUpdatesEx loop, so waiting costs
 * no SOAP call per task. A task not seen after a round gets its own filter on
 * the same collector. The loop runs while someone waits.
 */
export class TaskWaiter {
  private collector: MoRef | undefined;
  private version = '';
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly waiters = new Set<Waiter>();
  private loop: Promise<void> | undefined;
  private closed = false;
  private generation = 0;
  private feed: TaskCompletionFeed | undefined;
  /** Duration of this process's last round (call and handling). */
  private roundMs = 0;
  /** Estimated start of another process's latest round (its message, less a round's duration). */
  private otherRoundAt: number | undefined;

  constructor(
    private readonly ops: TaskWaiterOps,
    private readonly maxWaitSeconds: number,
    private readonly logger?: Logger,
  ) {}

  /** Session renewed: collector and version are gone with the old session. */
  reset(): void {
    this.generation++;
    this.collector = undefined;
    this.version = '';
    for (const w of this.waiters) w.fallbackFilter = undefined;
  }

  /** Shares the successes this waiter sees, and settles shared waits on the others' (once). */
  attachFeed(feed: TaskCompletionFeed): void {
    if (this.feed) throw new Error('a task completion feed is already attached');
    this.feed = feed;
    feed.subscribe((tasks) => this.onShared(tasks));
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.waiters]) this.settle(w, () => w.reject(new TransportError(`client closed while waiting for ${w.task.value}`)));
  }

  wait(task: MoRef, options: WaitOptions = {}): Promise<TaskInfo> {
    const known = this.tasks.get(task.value);
    if (known?.state === 'success' || known?.state === 'error') return this.finish(task, known);
    return new Promise<TaskInfo>((resolve, reject) => {
      const cleanups: (() => void)[] = [];
      const done = (fn: () => void) => () => {
        for (const c of cleanups) c();
        fn();
      };
      const waiter: Waiter = { task, shared: options.shared === true, resolve: (i) => done(() => resolve(i))(), reject: (e) => done(() => reject(e))(), unseenRounds: 0 };
      if (options.signal) {
        const signal = options.signal;
        if (signal.aborted) {
          reject(signal.reason ?? new Error('aborted'));
          return;
        }
        const onAbort = () => this.settle(waiter, () => waiter.reject(signal.reason ?? new Error('aborted')));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      if (options.timeoutMs !== undefined) {
        const timer = setTimeout(() => this.settle(waiter, () => waiter.reject(new TransportError(`task ${task.value} did not finish within ${options.timeoutMs} ms`))), options.timeoutMs);
        cleanups.push(() => clearTimeout(timer));
      }
      this.waiters.add(waiter);
      this.ensureLoop();
    });
  }

  private finish(task: MoRef, rec: TaskRecord): Promise<TaskInfo> {
    const info: TaskInfo = { key: task.value, task, state: rec.state ?? 'success' };
    if (rec.entity) info.entity = rec.entity;
    if (rec.name) info.name = rec.name;
    if (rec.descriptionId) info.descriptionId = rec.descriptionId;
    if (rec.result !== undefined) info.result = rec.result;
    if (rec.state === 'error') {
      const err = rec.error instanceof Error ? rec.error : faultFromDecoded(rec.error);
      info.error = err;
      return Promise.reject(err);
    }
    return Promise.resolve(info);
  }

  private settle(w: Waiter, fn: () => void): void {
    if (!this.waiters.delete(w)) return;
    if (w.fallbackFilter) {
      const f = w.fallbackFilter;
      w.fallbackFilter = undefined;
      this.ops.DestroyPropertyFilter(f).catch(() => undefined);
    }
    fn();
  }

  private ensureLoop(): void {
    if (this.loop || this.closed) return;
    this.loop = this.run()
      .catch((err: unknown) => this.logger?.error({ err: (err as Error).message }, 'task wait loop failed'))
      .finally(() => {
      this.loop = undefined;
      if (this.waiters.size > 0 && !this.closed) this.ensureLoop();
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.waiters.size > 0 && !this.closed) {
      const gen = this.generation;
      try {
        const started = Date.now();
        const changed = await this.round();
        failures = 0;
        this.roundMs = Date.now() - started;
        const pause = this.nextRoundAt(started) - Date.now();
        if (changed && this.waiters.size > 0 && pause > 0) await new Promise((r) => setTimeout(r, pause));
      } catch (err) {
        if (this.closed) return;
        if (gen !== this.generation) continue;
        if (err instanceof InvalidCollectorVersion) {
          this.version = '';
          continue;
        }
        if (err instanceof ManagedObjectNotFound || err instanceof NotAuthenticated) {
          this.reset();
          continue;
        }
        failures++;
        // A fault that is not transient (e.g. NoPermission on TaskManager) fails every waiter at once.
        if (err instanceof VimFault || failures >= 3) {
          for (const w of [...this.waiters]) this.settle(w, () => w.reject(err));
          return;
        }
        this.logger?.warn({ err: (err as Error).message }, 'task wait loop: retrying after error');
        await new Promise((r) => setTimeout(r, 250 * failures));
      }
    }
  }

  /**
   * When the next round may start: COALESCE_MS after this one started, moved
   * toward halfway between the rounds of another process that shares its
   * sightings (by half the gap each time, so the average pace stays the same).
   * Two processes then look at vCenter in turn, and a task's end waits about a
   * quarter of COALESCE_MS to be seen instead of half.
   */
  private nextRoundAt(started: number): number {
    const natural = started + COALESCE_MS;
    const other = this.otherRoundAt;
    if (other === undefined || Date.now() - other > 2 * COALESCE_MS) return natural;
    let target = other + COALESCE_MS / 2;
    while (target < natural - COALESCE_MS / 2) target += COALESCE_MS;
    while (target >= natural + COALESCE_MS / 2) target -= COALESCE_MS;
    return natural + (target - natural) / 2;
  }

  /** One WaitForUpdatesEx; true when it brought changes. */
  private async round(): Promise<boolean> {
    if (!this.collector) {
      const taskManager = this.ops.taskManager;
      const collector = await this.ops.CreatePropertyCollector();
      if (taskManager) await this.ops.createTaskFilter(collector, { taskManager });
      this.collector = collector;
      this.version = '';
    }
    const collector = this.collector;
    const gen = this.generation;
    const seenBefore = new Set(this.waiters);
    const initial = this.version === '';
    const result = await this.ops.waitForUpdates(collector, this.version, this.maxWaitSeconds);
    if (gen !== this.generation) return false;
    if (result) {
      this.version = result.version;
      // The first read lists every recent task, long finished ones too: nothing new to share.
      this.apply(result.updates, !initial);
    }
    await this.fallbacks(seenBefore, collector);
    return result !== null && !result.truncated;
  }

  private apply(updates: ObjectUpdate[], share = false): void {
    const now = Date.now();
    const succeeded: string[] = [];
    for (const u of updates) {
      if (u.obj.type !== 'Task') continue;
      const rec = this.tasks.get(u.obj.value) ?? {};
      if (u.kind === 'leave') continue;
      for (const c of u.changeSet) {
        if (c.name === 'info.state') rec.state = str(c.val) as TaskState | undefined;
        else if (c.name === 'info.error') rec.error = c.op === 'remove' ? undefined : c.val;
        else if (c.name === 'info.result') rec.result = c.val;
        else if (c.name === 'info.entity' && isObj(c.val)) rec.entity = c.val as unknown as MoRef;
        else if (c.name === 'info.name') rec.name = str(c.val);
        else if (c.name === 'info.descriptionId') rec.descriptionId = str(c.val);
      }
      if ((rec.state === 'success' || rec.state === 'error') && rec.finishedAt === undefined) {
        rec.finishedAt = now;
        if (rec.state === 'success') succeeded.push(u.obj.value);
      }
      this.tasks.delete(u.obj.value);
      this.tasks.set(u.obj.value, rec);
    }
    this.prune(now);
    const mine = new Set<string>();
    for (const w of [...this.waiters]) {
      const rec = this.tasks.get(w.task.value);
      if (rec?.state === 'success' || rec?.state === 'error') {
        mine.add(w.task.value);
        this.settle(w, () => this.finish(w.task, rec).then(w.resolve, w.reject));
      }
    }
    // Tasks nobody here waited for are likely another process's: tell it.
    const others = succeeded.filter((t) => !mine.has(t));
    if (share && this.feed && others.length > 0) this.feed.publish(others);
  }

  /** Another process saw these tasks succeed: settle the shared waits on them. */
  private onShared(tasks: string[]): void {
    if (this.closed || this.waiters.size === 0) return;
    this.otherRoundAt = Date.now() - this.roundMs;
    const ids = new Set(tasks);
    const now = Date.now();
    for (const w of [...this.waiters]) {
      if (!w.shared || !ids.has(w.task.value)) continue;
      const known = this.tasks.get(w.task.value);
      // What this process read itself wins (an error carries its fault).
      if (known?.state === 'success' || known?.state === 'error') continue;
      const rec: TaskRecord = { ...known, state: 'success', finishedAt: now };
      this.tasks.set(w.task.value, rec);
      this.settle(w, () => this.finish(w.task, rec).then(w.resolve, w.reject));
    }
  }

  private prune(now: number): void {
    for (const [k, rec] of this.tasks) {
      if (this.tasks.size <= KEEP_FINISHED && (rec.finishedAt === undefined || now - rec.finishedAt < KEEP_FINISHED_MS)) break;
      if (rec.finishedAt !== undefined) this.tasks.delete(k);
    }
  }

  /** A waiter whose task stayed unseen for a full round gets a filter on the task itself. */
  private async fallbacks(seenBefore: Set<Waiter>, collector: MoRef): Promise<void> {
    for (const w of this.waiters) {
      if (!seenBefore.has(w) || w.fallbackFilter || this.tasks.has(w.task.value)) continue;
      w.unseenRounds++;
      if (w.unseenRounds < 1) continue;
      try {
        w.fallbackFilter = await this.ops.createTaskFilter(collector, { task: w.task });
      } catch (err) {
        this.settle(w, () => w.reject(err));
      }
    }
  }
}
