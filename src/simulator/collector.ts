/**
 * PropertyCollector state of one session: filters, update versions and the one
 * WaitForUpdatesEx waiter. A world change marks the changed objects dirty in
 * each filter that holds them (no rescan of 10k VMs per waiter); the next
 * WaitForUpdatesEx reports only what changed since the version it names.
 */
import { faults, type SimFault } from './fault.ts';
import { pathsFor, selectObjects, type FilterSpecIn, type ObjectAccess } from './selection.ts';
import { esc, moref, ser, type XVal } from './xml.ts';

/** The inventory pseudo-id touched when objects appear or disappear. */
export const INVENTORY_CHANGED = '*inventory*';

/** What a filter last reported for one object: its type and the printed value of each path ('' = unset). */
interface Reported {
  type: string;
  vals: string[];
}

export class Filter {
  /** Objects the spec selects now. */
  selected = new Set<string>();
  through = new Set<string>();
  readonly reported = new Map<string, Reported>();
  /** The spec's paths per object type (fixed for the filter's life). */
  readonly pathsByType = new Map<string, string[]>();
  readonly dirty = new Set<string>();
  membershipDirty = true;
  constructor(
    readonly id: string,
    readonly spec: FilterSpecIn,
    readonly partialUpdates: boolean,
  ) {}

  /** Called for every world change. Returns whether this filter cares. */
  noteChange(ids: readonly string[]): boolean {
    let cares = false;
    for (const id of ids) {
      if (this.selected.has(id) || this.reported.has(id)) {
        this.dirty.add(id);
        cares = true;
      }
      if (this.through.has(id) || id === INVENTORY_CHANGED) {
        this.membershipDirty = true;
        cares = true;
      }
    }
    return cares;
  }

  /** Forget everything reported: the next update is a full enter of every object. */
  reset(): void {
    this.selected.clear();
    this.reported.clear();
    this.dirty.clear();
    this.membershipDirty = true;
  }
}

interface Waiter {
  resolve: (xml: string | undefined) => void;
  reject: (f: SimFault) => void;
  timer: NodeJS.Timeout | undefined;
  maxObjectUpdates: number | undefined;
}

export class Collector {
  readonly filters = new Map<string, Filter>();
  private version = 0;
  private waiter: Waiter | undefined;
  private scheduled = false;

  constructor(
    readonly id: string,
    private readonly access: ObjectAccess,
  ) {}

  /** Whether a WaitForUpdatesEx is blocked on this collector. */
  get waiting(): boolean {
    return this.waiter !== undefined;
  }

  noteChange(ids: readonly string[]): void {
    let cares = false;
    for (const f of this.filters.values()) if (f.noteChange(ids)) cares = true;
    if (cares && this.waiter && !this.scheduled) {
      // Batch the touches of one world change into one answer.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.tryAnswer();
      });
    }
  }

  addFilter(f: Filter): void {
    this.filters.set(f.id, f);
    if (this.waiter) setImmediate(() => this.tryAnswer());
  }

  /**
   * WaitForUpdatesEx: resolves with the `<returnval>` body, or undefined (no
   * returnval) when maxWaitSeconds passed without a change.
   */
  waitForUpdates(version: string, maxWaitSeconds: number | undefined, maxObjectUpdates: number | undefined): Promise<string | undefined> {
    if (version === '') {
      for (const f of this.filters.values()) f.reset();
    } else if (version !== String(this.version)) {
      return Promise.reject(faults.invalidCollectorVersion());
    }
    const now = this.compute(maxObjectUpdates);
    if (now !== undefined || maxWaitSeconds === 0) return Promise.resolve(now);
    this.cancelWait();
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, maxObjectUpdates };
      // Unset maxWaitSeconds: wait as long as the server allows (15 minutes here).
      const ms = (maxWaitSeconds ?? 900) * 1000;
      w.timer = setTimeout(() => {
        if (this.waiter === w) this.waiter = undefined;
        resolve(undefined);
      }, ms);
      this.waiter = w;
    });
  }

  /** CancelWaitForUpdates, a newer wait, a closed connection, or the end of the session. */
  cancelWait(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    if (w.timer) clearTimeout(w.timer);
    w.reject(faults.requestCanceled());
  }

  private tryAnswer(): void {
    const w = this.waiter;
    if (!w) return;
    let xml: string | undefined;
    try {
      xml = this.compute(w.maxObjectUpdates);
    } catch (err) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.reject(err as SimFault);
      return;
    }
    if (xml === undefined) return;
    this.waiter = undefined;
    if (w.timer) clearTimeout(w.timer);
    w.resolve(xml);
  }

  /** Builds an UpdateSet of everything pending, or undefined when nothing changed. */
  private compute(maxObjectUpdates: number | undefined): string | undefined {
    let budget = maxObjectUpdates && maxObjectUpdates > 0 ? maxObjectUpdates : Number.POSITIVE_INFINITY;
    let truncated = false;
    let filterSets = '';
    for (const f of this.filters.values()) {
      if (f.membershipDirty) {
        const sel = selectObjects({ ...f.spec, reportMissing: true }, this.access);
        f.through = sel.through;
        const next = new Set(sel.ids);
        for (const id of f.reported.keys()) if (!next.has(id)) f.dirty.add(id);
        for (const id of next) if (!f.reported.has(id)) f.dirty.add(id);
        f.selected = next;
        f.membershipDirty = false;
      }
      let objectSets = '';
      for (const id of f.dirty) {
        if (budget <= 0) {
          truncated = true;
          break;
        }
        f.dirty.delete(id);
        const update = this.objectUpdate(f, id, f.selected.has(id));
        if (update) {
          objectSets += update;
          budget--;
        }
      }
      if (objectSets) filterSets += `<filterSet><filter type="PropertyFilter">${esc(f.id)}</filter>${objectSets}</filterSet>`;
    }
    if (!filterSets) return undefined;
    this.version++;
    return `<returnval><version>${this.version}</version>${filterSets}${truncated ? '<truncated>true</truncated>' : ''}</returnval>`;
  }

  private objectUpdate(f: Filter, id: string, isMember: boolean): string | undefined {
    const type = this.access.typeOf(id);
    const before = f.reported.get(id);
    if (!isMember || !type) {
      if (!before) return undefined;
      f.reported.delete(id);
      // The object may be gone from the registry: use the type it was reported with.
      return `<objectSet><kind>leave</kind>${moref('obj', { type: type ?? before.type, value: id })}</objectSet>`;
    }
    let paths = f.pathsByType.get(type);
    if (!paths) {
      paths = pathsFor(f.spec, type, this.access);
      f.pathsByType.set(type, paths);
    }
    const vals: string[] = new Array<string>(paths.length);
    let changes = '';
    let missing = '';
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i] as string;
      let val: XVal | undefined;
      try {
        val = this.access.get(id, path);
      } catch (err) {
        const fault = err as SimFault;
        vals[i] = '';
        missing += `<missingSet><path>${esc(path)}</path><fault><fault xsi:type="${fault.type}"></fault><localizedMessage>${esc(fault.message)}</localizedMessage></fault></missingSet>`;
        continue;
      }
      const text = val === undefined ? '' : ser('val', val, true);
      vals[i] = text;
      if (before && before.vals[i] === text) continue;
      changes += `<changeSet><name>${esc(path)}</name><op>assign</op>${text}</changeSet>`;
    }
    f.reported.set(id, { type, vals });
    if (before && !changes && !missing) return undefined;
    return `<objectSet><kind>${before ? 'modify' : 'enter'}</kind>${moref('obj', { type, value: id })}${changes}${missing}</objectSet>`;
  }

  destroy(): void {
    this.cancelWait();
    this.filters.clear();
  }
}
