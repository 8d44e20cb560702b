/**
 * Tasks as vCenter runs them: queued → running → success | error, at most
 * `concurrency` running at once per vCenter (extra tasks wait in the queue), each
 * running for a configurable time per method. TaskManager.recentTask keeps
 * finished tasks for ten minutes (at most MAX_RECENT).
 */
import { SimFault } from './fault.ts';
import type { World } from './world.ts';
import { bool, date, enm, int, obj, ref, str, type XVal } from './xml.ts';

export interface SimTask {
  id: string;
  method: string;
  descriptionId: string;
  entity: { type: string; id: string; name: string };
  userName: string;
  state: 'queued' | 'running' | 'success' | 'error';
  queueTime: number;
  startTime?: number;
  completeTime?: number;
  result?: XVal;
  error?: SimFault;
  run: () => XVal | undefined;
}

const MAX_RECENT = 2000;
const RECENT_MS = 10 * 60_000;

export const DEFAULT_TASK_DURATIONS_MS: Record<string, number> = {
  CryptoUnlock_Task: 200,
  default: 100,
};

export interface TaskStats {
  tasksStarted: Record<string, Record<string, number>>;
  peakConcurrentTasks: number;
}

export class TaskManager {
  private readonly tasks = new Map<string, SimTask>();
  private readonly queue: SimTask[] = [];
  private running = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly stats: TaskStats = { tasksStarted: {}, peakConcurrentTasks: 0 };
  private stopped = false;

  constructor(
    private readonly world: World,
    private readonly concurrency: number,
    private readonly durations: Record<string, number>,
  ) {}

  get runningCount(): number {
    return this.running;
  }

  get(id: string): SimTask | undefined {
    return this.tasks.get(id);
  }

  /** Recent task ids, oldest first. */
  recent(): string[] {
    const cutoff = Date.now() - RECENT_MS;
    const out: string[] = [];
    for (const t of this.tasks.values()) if (t.completeTime === undefined || t.completeTime >= cutoff) out.push(t.id);
    return out;
  }

  /** Creates a task; `run` executes when it leaves the queue and may throw a SimFault. */
  create(method: string, descriptionId: string, entity: SimTask['entity'], userName: string, run: () => XVal | undefined): SimTask {
    const t: SimTask = { id: this.world.newId('task'), method, descriptionId, entity, userName, state: 'queued', queueTime: Date.now(), run };
    this.world.types.set(t.id, 'Task');
    this.tasks.set(t.id, t);
    const perVm = (this.stats.tasksStarted[entity.id] ??= {});
    perVm[method] = (perVm[method] ?? 0) + 1;
    this.queue.push(t);
    this.trim();
    this.world.touch(t.id, 'TaskManager');
    this.pump();
    return t;
  }

  resetStats(): void {
    this.stats.tasksStarted = {};
    this.stats.peakConcurrentTasks = this.running;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.length > 0) {
      const t = this.queue.shift() as SimTask;
      this.running++;
      this.stats.peakConcurrentTasks = Math.max(this.stats.peakConcurrentTasks, this.running);
      t.state = 'running';
      t.startTime = Date.now();
      this.world.touch(t.id);
      const ms = this.durations[t.method] ?? this.durations.default ?? 100;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.finish(t);
      }, ms);
      this.timers.add(timer);
    }
  }

  private finish(t: SimTask): void {
    try {
      t.result = t.run();
      t.state = 'success';
    } catch (err) {
      t.state = 'error';
      t.error = err instanceof SimFault ? err : new SimFault('SystemError', err instanceof Error ? err.message : String(err), [['reason', str(String(err))]]);
    }
    t.completeTime = Date.now();
    this.running--;
    this.world.touch(t.id);
    this.pump();
  }

  private trim(): void {
    if (this.tasks.size <= MAX_RECENT) return;
    // Oldest first; tasks finish about in creation order, so stop at the first unfinished one.
    for (const [id, t] of this.tasks) {
      if (this.tasks.size <= MAX_RECENT || t.completeTime === undefined) break;
      this.tasks.delete(id);
      this.world.types.delete(id);
    }
  }
}

export function taskInfoXVal(t: SimTask): XVal {
  return obj('TaskInfo', [
    ['key', str(t.id)],
    ['task', ref('Task', t.id)],
    ['name', str(t.method)],
    ['descriptionId', str(t.descriptionId)],
    ['entity', ref(t.entity.type, t.entity.id)],
    ['entityName', str(t.entity.name)],
    ['state', enm('TaskInfoState', t.state)],
    ['cancelled', bool(false)],
    ['cancelable', bool(false)],
    ['error', t.error ? obj('LocalizedMethodFault', [['fault', t.error.toXVal()], ['localizedMessage', str(t.error.message)]]) : undefined],
    ['result', t.result ? { ...t.result, poly: true } : undefined],
    ['reason', obj('TaskReasonUser', [['userName', str(t.userName)]], true)],
    ['queueTime', date(t.queueTime)],
    ['startTime', t.startTime === undefined ? undefined : date(t.startTime)],
    ['completeTime', t.completeTime === undefined ? undefined : date(t.completeTime)],
    ['eventChainId', int(Number(t.id.slice(5)))],
  ]);
}
