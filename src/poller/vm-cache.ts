import type { AlarmState, CryptoKeyId, MoRef, ObjectUpdate, VmStateSummary } from '../vsphere/types.ts';

/** The VM properties the poller watches (small on purpose: see soap-client-notes.md). */
export const WATCHED_VM_PATHS = [
  'name',
  'runtime.powerState',
  'runtime.connectionState',
  'runtime.cryptoState',
  'config.keyId',
  'triggeredAlarmState',
] as const;

/**
 * The poller's picture of every VM of one vCenter, fed by PropertyCollector
 * updates and replaced by each reconciliation. Values arrive already normalised
 * by the client, but a surprise shape never throws: an unreadable value is
 * treated as unset and reported back so the caller can log it.
 */
export class VmCache {
  readonly #vms = new Map<string, VmStateSummary>();
  /** When the watch last changed each VM (ms), to keep newer state over an older full read. */
  readonly #watchedAt = new Map<string, number>();

  get size(): number {
    return this.#vms.size;
  }

  get(moref: string): VmStateSummary | undefined {
    return this.#vms.get(moref);
  }

  values(): IterableIterator<VmStateSummary> {
    return this.#vms.values();
  }

  /**
   * Replaces the whole picture with a reconciliation read that started at
   * `readStartedAt` (ms). A VM the watch updated after that keeps the newer
   * watched state: the read must not roll it back.
   */
  replaceAll(vms: readonly VmStateSummary[], readStartedAt = Number.NEGATIVE_INFINITY): void {
    /** VMs the watch changed since the read started: their watched state, or undefined when they left. */
    const newer = new Map<string, VmStateSummary | undefined>();
    for (const [id, at] of this.#watchedAt) if (at > readStartedAt) newer.set(id, this.#vms.get(id));
    this.#vms.clear();
    this.#watchedAt.clear();
    for (const vm of vms) this.#vms.set(vm.moref.value, vm);
    for (const [id, vm] of newer) {
      if (vm) this.#vms.set(id, vm);
      else this.#vms.delete(id);
      this.#watchedAt.set(id, readStartedAt);
    }
  }

  /**
   * Applies one ObjectUpdate of a VirtualMachine. Returns the VM before and
   * after (undefined when absent), plus the property paths it could not read.
   */
  apply(update: ObjectUpdate): { before: VmStateSummary | undefined; after: VmStateSummary | undefined; unreadable: string[] } {
    const id = update.obj.value;
    const before = this.#vms.get(id);
    this.#watchedAt.set(id, Date.now());
    if (update.kind === 'leave') {
      this.#vms.delete(id);
      return { before, after: undefined, unreadable: [] };
    }
    const next: VmStateSummary = before
      ? { ...before, triggeredAlarmState: [...before.triggeredAlarmState] }
      : { moref: { type: update.obj.type || 'VirtualMachine', value: id }, name: id, triggeredAlarmState: [] };
    const unreadable: string[] = [];
    for (const change of update.changeSet) {
      const unset = change.op === 'remove' || change.op === 'indirectRemove' || change.val === undefined || change.val === null;
      if (!applyProperty(next, change.name, unset ? undefined : change.val)) unreadable.push(change.name);
    }
    this.#vms.set(id, next);
    return { before, after: next, unreadable };
  }
}

/** Sets one watched property; false when the path or value is not understood. */
function applyProperty(vm: VmStateSummary, path: string, val: unknown): boolean {
  switch (path) {
    case 'name':
      if (val === undefined) return true;
      if (typeof val !== 'string') return false;
      vm.name = val;
      return true;
    case 'runtime.powerState':
      return setEnum(vm, 'powerState', val);
    case 'runtime.connectionState':
      return setEnum(vm, 'connectionState', val);
    case 'runtime.cryptoState':
      return setEnum(vm, 'cryptoState', val);
    case 'config.keyId': {
      if (val === undefined) {
        delete vm.keyId;
        return true;
      }
      const key = toKeyId(val);
      if (!key) return false;
      vm.keyId = key;
      return true;
    }
    case 'triggeredAlarmState': {
      const states = toAlarmStates(val);
      if (!states) return false;
      vm.triggeredAlarmState = states;
      return true;
    }
    default:
      return false;
  }
}

function setEnum(vm: VmStateSummary, field: 'powerState' | 'connectionState' | 'cryptoState', val: unknown): boolean {
  if (val === undefined) {
    delete vm[field];
    return true;
  }
  if (typeof val !== 'string') return false;
  vm[field] = val;
  return true;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toKeyId(val: unknown): CryptoKeyId | undefined {
  if (!isRecord(val) || typeof val.keyId !== 'string') return undefined;
  const key: CryptoKeyId = { keyId: val.keyId };
  if (isRecord(val.providerId) && typeof val.providerId.id === 'string') key.providerId = { id: val.providerId.id };
  return key;
}

function toMoRef(val: unknown): MoRef | undefined {
  return isRecord(val) && typeof val.value === 'string' ? { type: typeof val.type === 'string' ? val.type : '', value: val.value } : undefined;
}

/** AlarmState[]; also accepts the ArrayOfAlarmState wrapper ({AlarmState: [...]}) and an empty wrapper. */
export function toAlarmStates(val: unknown): AlarmState[] | undefined {
  if (val === undefined) return [];
  let items: unknown = val;
  if (isRecord(val)) items = 'AlarmState' in val ? val.AlarmState : Object.keys(val).length === 0 ? [] : [val];
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) items = [items];
  const out: AlarmState[] = [];
  for (const item of items as unknown[]) {
    if (!isRecord(item)) return undefined;
    const alarm = toMoRef(item.alarm);
    const entity = toMoRef(item.entity);
    if (!alarm || !entity) return undefined;
    const time = item.time instanceof Date ? item.time : new Date(String(item.time));
    const state: AlarmState = { key: String(item.key ?? ''), entity, alarm, overallStatus: String(item.overallStatus ?? ''), time };
    if (typeof item.acknowledged === 'boolean') state.acknowledged = item.acknowledged;
    else if (item.acknowledged === 'true') state.acknowledged = true;
    if (typeof item.eventKey === 'number') state.eventKey = item.eventKey;
    out.push(state);
  }
  return out;
}
