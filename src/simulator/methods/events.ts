/** EventManager, EventHistoryCollector and AlarmManager methods. */
import { eventMatcher, eventToXVal, type EventFilterSpec, type SimEvent } from '../events.ts';
import { faults } from '../fault.ts';
import { asArray, childText, intOf, moRefOf, textOf, type Node } from '../request.ts';
import type { EventCollectorState } from '../sessions.ts';
import { alarmStatesXVal } from '../vm-xml.ts';
import { moref, ser } from '../xml.ts';
import { sessionOf, type MethodCall, type MethodDef } from './types.ts';

const MAX_COLLECTORS = 100;

function parseTime(node: Node | undefined, name: string, where: string): number | undefined {
  const t = childText(node, name);
  if (t === undefined || t === '') return undefined;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw faults.invalidType(`${where}.${name} "${t}" is not an xsd:dateTime`, `${where}.${name}`);
  return ms;
}

export function parseEventFilter(c: MethodCall, node: Node | undefined): EventFilterSpec {
  const f: EventFilterSpec = {};
  if (!node || typeof node !== 'object') return f;
  const entity = node.entity as Node | undefined;
  if (entity && typeof entity === 'object') {
    const ref = moRefOf(entity.entity, 'filter.entity.entity');
    if (!c.objects.typeOf(ref.value)) throw faults.notFound(ref);
    const recursion = childText(entity, 'recursion') ?? 'self';
    if (!['self', 'children', 'all'].includes(recursion)) throw faults.invalidArgument(`filter.entity.recursion "${recursion}" is not self, children or all`, 'filter.entity.recursion');
    f.entity = { id: ref.value, recursion };
  }
  const time = node.time as Node | undefined;
  if (time && typeof time === 'object') {
    f.beginTime = parseTime(time, 'beginTime', 'filter.time');
    f.endTime = parseTime(time, 'endTime', 'filter.time');
  }
  const ids = [...asArray(node.eventTypeId), ...asArray(node.type)].map(textOf).filter((x): x is string => !!x);
  if (ids.length) f.eventTypeId = ids;
  f.maxCount = intOf(node, 'maxCount', 'filter.maxCount');
  return f;
}

function collectorOf(c: MethodCall): EventCollectorState {
  const ec = sessionOf(c).eventCollectors.get(c.thisRef.value);
  if (!ec) throw faults.notFound(c.thisRef);
  return ec;
}

function matcher(c: MethodCall, ec: EventCollectorState): (ev: SimEvent) => boolean {
  const w = c.ctx.world;
  return eventMatcher(ec.filter, (a, b) => w.contains(a, b));
}

function maxCountOf(c: MethodCall): number {
  const n = intOf(c.args, 'maxCount');
  if (n === undefined || n <= 0 || n > 1000) throw faults.invalidArgument('maxCount must be between 1 and 1000', 'maxCount');
  return n;
}

const returnvals = (evs: SimEvent[]): string => evs.map((e) => ser('returnval', eventToXVal(e))).join('');

export const eventMethods: Record<string, MethodDef> = {
  CreateCollectorForEvents: {
    on: ['EventManager'],
    handler: (c) => {
      const s = sessionOf(c);
      if (s.eventCollectors.size >= MAX_COLLECTORS) throw faults.invalidState(`Too many event collectors in this session (at most ${MAX_COLLECTORS})`);
      const filter = parseEventFilter(c, c.args.filter as Node | undefined);
      const id = s.newId();
      s.eventCollectors.set(id, { id, filter, lastKey: 0, pageSize: filter.maxCount && filter.maxCount > 0 ? Math.min(filter.maxCount, 1000) : 10 });
      return moref('returnval', { type: 'EventHistoryCollector', value: id });
    },
  },
  ReadNextEvents: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      const ec = collectorOf(c);
      const evs = c.ctx.world.events.readAfter(ec.lastKey, maxCountOf(c), matcher(c, ec));
      const last = evs[evs.length - 1];
      if (last) ec.lastKey = last.key;
      return returnvals(evs);
    },
  },
  ReadPreviousEvents: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      // One cursor for both directions: backwards from the last event read, newest first.
      const ec = collectorOf(c);
      const evs = c.ctx.world.events.readBefore(ec.lastKey + 1, maxCountOf(c), matcher(c, ec));
      const first = evs[0];
      if (first) ec.lastKey = first.key - 1;
      return returnvals([...evs].reverse());
    },
  },
  RewindCollector: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      const ec = collectorOf(c);
      ec.lastKey = 0;
      return '';
    },
  },
  ResetCollector: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      const ec = collectorOf(c);
      const page = c.ctx.world.events.latestMatching(ec.pageSize, matcher(c, ec));
      // Just before the latest page: ReadNextEvents returns that page.
      const first = page[0];
      ec.lastKey = first ? first.key - 1 : (c.ctx.world.events.latest?.key ?? 0);
      return '';
    },
  },
  SetCollectorPageSize: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      collectorOf(c).pageSize = maxCountOf(c);
      c.ctx.world.touch(c.thisRef.value);
      return '';
    },
  },
  DestroyCollector: {
    on: ['EventHistoryCollector'],
    handler: (c) => {
      sessionOf(c).eventCollectors.delete(c.thisRef.value);
      return '';
    },
  },
  QueryEvents: {
    on: ['EventManager'],
    handler: (c) => {
      const filter = parseEventFilter(c, c.args.filter as Node | undefined);
      const w = c.ctx.world;
      const evs = w.events.latestMatching(filter.maxCount && filter.maxCount > 0 ? filter.maxCount : 1000, eventMatcher(filter, (a, b) => w.contains(a, b)));
      return returnvals(evs.reverse());
    },
  },
  GetAlarm: {
    on: ['AlarmManager'],
    handler: (c) => {
      const w = c.ctx.world;
      const entity = c.args.entity === undefined ? undefined : moRefOf(c.args.entity, 'entity');
      if (entity && !c.objects.typeOf(entity.value)) throw faults.notFound(entity);
      if (entity && entity.value !== w.rootFolderId) return '';
      return moref('returnval', { type: 'Alarm', value: w.alarm.id });
    },
  },
  GetAlarmState: {
    on: ['AlarmManager'],
    handler: (c) => {
      const w = c.ctx.world;
      const entity = moRefOf(c.args.entity, 'entity');
      if (!c.objects.typeOf(entity.value)) throw faults.notFound(entity);
      const vm = w.vms.get(entity.value);
      const val = alarmStatesXVal(w, 'VirtualMachine', entity.value, vm?.alarms ?? []);
      return val.k === 'a' ? val.items.map((i) => ser('returnval', i)).join('') : '';
    },
  },
  AcknowledgeAlarm: {
    on: ['AlarmManager'],
    handler: (c) => {
      const w = c.ctx.world;
      const alarm = moRefOf(c.args.alarm, 'alarm');
      const entity = moRefOf(c.args.entity, 'entity');
      if (alarm.value !== w.alarm.id) throw faults.notFound(alarm);
      if (!c.objects.typeOf(entity.value)) throw faults.notFound(entity);
      const vm = w.vms.get(entity.value);
      const state = vm?.alarms.find((a) => a.alarmId === alarm.value);
      if (vm && state && !state.acknowledged) {
        const user = sessionOf(c).userName;
        state.acknowledged = true;
        state.acknowledgedByUser = user;
        state.acknowledgedTime = Date.now();
        w.events.emit({
          type: 'AlarmAcknowledgedEvent',
          userName: user,
          vm: w.named(vm.id),
          message: `Acknowledged alarm '${w.alarm.name}' on ${vm.name}`,
          alarm: { type: 'Alarm', id: w.alarm.id, name: w.alarm.name },
          source: w.named(w.rootFolderId),
          entity: w.named(vm.id),
        });
        w.touch(vm.id);
      }
      return '';
    },
  },
};
