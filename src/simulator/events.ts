/**
 * The vCenter event log and EventHistoryCollectors. Events are kept oldest
 * first with increasing int32 keys; a collector reads forward from where it
 * stopped (ReadNextEvents pages oldest → newest) and sees events emitted after
 * its creation too, as on vCenter.
 */
import type { SimFault } from './fault.ts';
import { date, int, obj, ref, str, arr, enm, type XVal, type XObj } from './xml.ts';

export interface NamedRef {
  type: string;
  id: string;
  name: string;
}

export interface SimEvent {
  key: number;
  chainId: number;
  createdTime: number;
  /** vim25 class name: EventEx, AlarmStatusChangedEvent, VmFailedToPowerOnEvent, ... */
  type: string;
  userName: string;
  datacenter?: NamedRef;
  computeResource?: NamedRef;
  host?: NamedRef;
  vm?: NamedRef;
  message: string;
  eventTypeId?: string;
  severity?: 'error' | 'warning' | 'info' | 'user';
  /** EventEx object: the entity it is about. */
  object?: NamedRef;
  alarm?: NamedRef;
  source?: NamedRef;
  entity?: NamedRef;
  from?: string;
  to?: string;
  reason?: SimFault;
}

export interface EventFilterSpec {
  eventTypeId?: string[];
  beginTime?: number;
  endTime?: number;
  entity?: { id: string; recursion: string };
  maxCount?: number;
}

/** Tells whether an entity (by id) is inside another (folder/host/datacenter); given by the world. */
export type Containment = (entityId: string, containerId: string) => boolean;

const MAX_EVENTS = 200_000;

export class EventLog {
  private readonly events: SimEvent[] = [];
  private nextKey = 1000;
  private readonly listeners = new Set<(ev: SimEvent) => void>();

  emit(ev: Omit<SimEvent, 'key' | 'chainId' | 'createdTime'> & { chainId?: number }): SimEvent {
    const key = this.nextKey++;
    const full: SimEvent = { ...ev, key, chainId: ev.chainId ?? key, createdTime: Date.now() };
    this.events.push(full);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    for (const l of this.listeners) l(full);
    return full;
  }

  onEvent(listener: (ev: SimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get latest(): SimEvent | undefined {
    return this.events[this.events.length - 1];
  }

  /** Index of the first event with key > afterKey. */
  private indexAfter(afterKey: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.events[mid] as SimEvent).key <= afterKey) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Up to max matching events with key > afterKey, oldest first. */
  readAfter(afterKey: number, max: number, match: (ev: SimEvent) => boolean): SimEvent[] {
    const out: SimEvent[] = [];
    for (let i = this.indexAfter(afterKey); i < this.events.length && out.length < max; i++) {
      const ev = this.events[i] as SimEvent;
      if (match(ev)) out.push(ev);
    }
    return out;
  }

  /** Up to max matching events with key < beforeKey, oldest first. */
  readBefore(beforeKey: number, max: number, match: (ev: SimEvent) => boolean): SimEvent[] {
    const out: SimEvent[] = [];
    for (let i = this.indexAfter(beforeKey - 1) - 1; i >= 0 && out.length < max; i--) {
      const ev = this.events[i] as SimEvent;
      if (match(ev)) out.push(ev);
    }
    return out.reverse();
  }

  /** The newest `max` matching events, oldest first (a collector's latestPage). */
  latestMatching(max: number, match: (ev: SimEvent) => boolean): SimEvent[] {
    return this.readBefore(Number.MAX_SAFE_INTEGER, max, match);
  }

  clearListeners(): void {
    this.listeners.clear();
  }
}

/** The predicate of an EventFilterSpec. */
export function eventMatcher(filter: EventFilterSpec, contains: Containment): (ev: SimEvent) => boolean {
  const types = filter.eventTypeId && filter.eventTypeId.length > 0 ? new Set(filter.eventTypeId) : undefined;
  return (ev) => {
    if (types && !types.has(ev.type) && !(ev.eventTypeId && types.has(ev.eventTypeId))) return false;
    if (filter.beginTime !== undefined && ev.createdTime < filter.beginTime) return false;
    if (filter.endTime !== undefined && ev.createdTime > filter.endTime) return false;
    if (filter.entity) {
      const { id, recursion } = filter.entity;
      const about = [ev.vm?.id, ev.host?.id, ev.object?.id, ev.entity?.id].filter((x): x is string => x !== undefined);
      if (about.includes(id)) return true;
      if (recursion === 'self') return false;
      return about.some((a) => contains(a, id));
    }
    return true;
  };
}

function argument(type: string, field: string, r: NamedRef | undefined): XObj | undefined {
  if (!r) return undefined;
  return obj(type, [['name', str(r.name)], [field, ref(r.type, r.id)]]);
}

/** The event as a vim25 data object (polymorphic: printed with its xsi:type). */
export function eventToXVal(ev: SimEvent): XObj {
  const f: [string, XVal | undefined][] = [
    ['key', int(ev.key)],
    ['chainId', int(ev.chainId)],
    ['createdTime', date(ev.createdTime)],
    ['userName', str(ev.userName)],
    ['datacenter', argument('DatacenterEventArgument', 'datacenter', ev.datacenter)],
    ['computeResource', argument('ComputeResourceEventArgument', 'computeResource', ev.computeResource)],
    ['host', argument('HostEventArgument', 'host', ev.host)],
    ['vm', argument('VmEventArgument', 'vm', ev.vm)],
    ['fullFormattedMessage', str(ev.message)],
  ];
  if (ev.type === 'EventEx') {
    f.push(
      ['eventTypeId', str(ev.eventTypeId ?? '')],
      ['severity', ev.severity ? str(ev.severity) : undefined],
      ['message', str(ev.message)],
      ['objectId', ev.object ? str(ev.object.id) : undefined],
      ['objectType', ev.object ? str(ev.object.type) : undefined],
      ['objectName', ev.object ? str(ev.object.name) : undefined],
    );
  } else if (ev.type.startsWith('Alarm')) {
    f.push(
      ['alarm', argument('AlarmEventArgument', 'alarm', ev.alarm)],
      ['source', argument('ManagedEntityEventArgument', 'entity', ev.source)],
      ['entity', argument('ManagedEntityEventArgument', 'entity', ev.entity)],
      ['from', ev.from === undefined ? undefined : enm('ManagedEntityStatus', ev.from)],
      ['to', ev.to === undefined ? undefined : enm('ManagedEntityStatus', ev.to)],
    );
  } else if (ev.type === 'VmFailedToPowerOnEvent') {
    f.push(['template', { k: 'p', t: 'xsd:boolean', v: 'false' }]);
    f.push(['reason', ev.reason ? obj('LocalizedMethodFault', [['fault', ev.reason.toXVal()], ['localizedMessage', str(ev.reason.message)]]) : undefined]);
  } else if (ev.type.startsWith('Vm')) {
    f.push(['template', { k: 'p', t: 'xsd:boolean', v: 'false' }]);
  }
  return obj(ev.type, f, true);
}

export function eventsArray(evs: readonly SimEvent[]): XVal {
  return arr('Event', evs.map(eventToXVal));
}
