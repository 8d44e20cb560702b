import { arr, bool, cryptoKeyId, date, isObj, moref, morefs, num, str, type Decoded, type DecodedObject } from './decode.ts';
import { faultFromDecoded } from './fault-parse.ts';
import type {
  AlarmState,
  CryptoKeyStatus,
  EntityPrivilege,
  KmipClusterInfo,
  KmipClusterStatus,
  MoRef,
  ObjectUpdate,
  ServiceContent,
  TaskInfo,
  TaskState,
  VimEvent,
} from './types.ts';

/** Typed views of decoded vim25 values. Each reader tolerates missing fields and unknown types. */

function obj(v: unknown): DecodedObject {
  return isObj(v) ? v : {};
}

export function serviceContent(v: Decoded): ServiceContent {
  const o = obj(v);
  const about = obj(o.about);
  const rootFolder = moref(o.rootFolder);
  const propertyCollector = moref(o.propertyCollector);
  if (!rootFolder || !propertyCollector) throw new TypeError('ServiceContent without rootFolder or propertyCollector');
  return {
    rootFolder,
    propertyCollector,
    viewManager: moref(o.viewManager),
    sessionManager: moref(o.sessionManager),
    authorizationManager: moref(o.authorizationManager),
    eventManager: moref(o.eventManager),
    alarmManager: moref(o.alarmManager),
    taskManager: moref(o.taskManager),
    cryptoManager: moref(o.cryptoManager),
    about: {
      name: str(about.name),
      fullName: str(about.fullName),
      version: str(about.version) ?? '',
      apiVersion: str(about.apiVersion) ?? '',
      apiType: str(about.apiType),
      instanceUuid: str(about.instanceUuid),
    },
  };
}

export interface UserSession {
  key: string;
  userName: string;
  fullName?: string;
  loginTime?: Date;
}

export function userSession(v: Decoded): UserSession {
  const o = obj(v);
  return { key: str(o.key) ?? '', userName: str(o.userName) ?? '', fullName: str(o.fullName), loginTime: date(o.loginTime) };
}

export function alarmState(v: Decoded): AlarmState | undefined {
  const o = obj(v);
  const entity = moref(o.entity);
  const alarm = moref(o.alarm);
  if (!entity || !alarm) return undefined;
  const out: AlarmState = {
    key: str(o.key) ?? '',
    entity,
    alarm,
    overallStatus: str(o.overallStatus) ?? 'gray',
    time: date(o.time) ?? new Date(0),
  };
  const acknowledged = bool(o.acknowledged);
  if (acknowledged !== undefined) out.acknowledged = acknowledged;
  if (o.acknowledgedByUser !== undefined) out.acknowledgedByUser = str(o.acknowledgedByUser);
  const ackTime = date(o.acknowledgedTime);
  if (ackTime) out.acknowledgedTime = ackTime;
  const eventKey = num(o.eventKey);
  if (eventKey !== undefined) out.eventKey = eventKey;
  const disabled = bool(o.disabled);
  if (disabled !== undefined) out.disabled = disabled;
  return out;
}

export function alarmStates(v: unknown): AlarmState[] {
  return arr(v).map(alarmState).filter((a): a is AlarmState => a !== undefined);
}

const TASK_STATES = new Set(['queued', 'running', 'success', 'error']);

export function taskInfo(v: Decoded): TaskInfo {
  const o = obj(v);
  const task = moref(o.task);
  const state = str(o.state) ?? '';
  if (!task || !TASK_STATES.has(state)) throw new TypeError(`TaskInfo without task or with unknown state "${state}"`);
  const info: TaskInfo = { key: str(o.key) ?? task.value, task, state: state as TaskState };
  if (o.name !== undefined) info.name = str(o.name);
  if (o.descriptionId !== undefined) info.descriptionId = str(o.descriptionId);
  const entity = moref(o.entity);
  if (entity) info.entity = entity;
  if (o.error !== undefined) info.error = faultFromDecoded(o.error);
  if (o.result !== undefined) info.result = o.result;
  const q = date(o.queueTime);
  if (q) info.queueTime = q;
  const s = date(o.startTime);
  if (s) info.startTime = s;
  const c = date(o.completeTime);
  if (c) info.completeTime = c;
  return info;
}

function entityArg<K extends string>(v: unknown, field: K): ({ name: string } & Record<K, MoRef>) | undefined {
  const o = obj(v);
  const ref = moref(o[field]);
  if (!ref) return undefined;
  return { name: str(o.name) ?? '', [field]: ref } as { name: string } & Record<K, MoRef>;
}

const EVENT_FIELDS = new Set(['_type', 'key', 'chainId', 'createdTime', 'userName', 'vm', 'host', 'fullFormattedMessage', 'eventTypeId', 'severity', 'objectId', 'objectType', 'alarm', 'entity', 'from', 'to']);

/** An Event of any subtype; unknown subtypes keep their type name and raw fields. */
export function vimEvent(v: Decoded): VimEvent {
  const o = obj(v);
  const ev: VimEvent = {
    type: o._type ?? 'Event',
    key: num(o.key) ?? 0,
    chainId: num(o.chainId) ?? 0,
    createdTime: date(o.createdTime) ?? new Date(0),
    raw: {},
  };
  const userName = str(o.userName);
  if (userName) ev.userName = userName;
  const vm = entityArg(o.vm, 'vm');
  if (vm) ev.vm = vm;
  const host = entityArg(o.host, 'host');
  if (host) ev.host = host;
  const alarm = entityArg(o.alarm, 'alarm');
  if (alarm) ev.alarm = alarm;
  const entity = entityArg(o.entity, 'entity');
  if (entity) ev.entity = entity;
  for (const f of ['fullFormattedMessage', 'eventTypeId', 'severity', 'objectId', 'objectType', 'from', 'to'] as const) {
    const s = str(o[f]);
    if (s !== undefined) ev[f] = s;
  }
  for (const [k, val] of Object.entries(o)) if (!EVENT_FIELDS.has(k)) ev.raw[k] = val;
  return ev;
}

/** Known property paths get typed values; everything else keeps its generic decoding. */
export function propertyValue(path: string, val: Decoded): unknown {
  if (val === undefined) return undefined;
  switch (path) {
    case 'triggeredAlarmState':
      return alarmStates(val);
    case 'config.keyId':
    case 'runtime.cryptoKeyId':
      return cryptoKeyId(val);
    case 'info':
      return isObj(val) && val._type === 'TaskInfo' ? taskInfo(val) : val;
    case 'info.error':
      return faultFromDecoded(val);
    case 'latestPage':
      return arr(val).map(vimEvent);
    case 'datastore':
    case 'view':
    case 'recentTask':
      return morefs(val);
    default:
      return val;
  }
}

export interface PropertyChange {
  name: string;
  op: ObjectUpdate['changeSet'][number]['op'];
  val?: unknown;
}

/** PropertyCollector ObjectUpdate (WaitForUpdatesEx filterSet.objectSet). */
export function objectUpdate(v: Decoded, missingFault: (m: Decoded) => Error): ObjectUpdate | undefined {
  const o = obj(v);
  const objRef = moref(o.obj);
  const kind = str(o.kind);
  if (!objRef || (kind !== 'enter' && kind !== 'modify' && kind !== 'leave')) return undefined;
  return {
    kind,
    obj: objRef,
    changeSet: arr(o.changeSet).map((c) => {
      const co = obj(c);
      const name = str(co.name) ?? '';
      const change: PropertyChange = { name, op: (str(co.op) ?? 'assign') as PropertyChange['op'] };
      if (co.val !== undefined) change.val = propertyValue(name, co.val);
      return change;
    }),
    missingSet: arr(o.missingSet).map((m) => ({ path: str(obj(m).path) ?? '', fault: missingFault(obj(m).fault) })),
  };
}

export function kmipClusterInfo(v: Decoded): KmipClusterInfo {
  const o = obj(v);
  return {
    clusterId: { id: str(obj(o.clusterId).id) ?? '' },
    servers: arr(o.servers).map((s) => {
      const so = obj(s);
      return { name: str(so.name) ?? '', address: str(so.address) ?? '', port: num(so.port) ?? 0 };
    }),
    useAsDefault: bool(o.useAsDefault) ?? false,
    ...(o.managementType !== undefined ? { managementType: str(o.managementType) } : {}),
  };
}

export function kmipClusterStatus(v: Decoded): KmipClusterStatus {
  const o = obj(v);
  return {
    clusterId: { id: str(obj(o.clusterId).id) ?? '' },
    overallStatus: str(o.overallStatus),
    managementType: str(o.managementType),
    servers: arr(o.servers).map((s) => {
      const so = obj(s);
      return { name: str(so.name) ?? '', status: str(so.status), connectionStatus: str(so.connectionStatus) ?? '' };
    }),
  };
}

export function cryptoKeyStatus(v: Decoded): CryptoKeyStatus | undefined {
  const o = obj(v);
  const keyId = cryptoKeyId(o.keyId);
  if (!keyId) return undefined;
  const out: CryptoKeyStatus = {
    keyId,
    encryptedVMs: morefs(o.encryptedVMs),
    affectedHosts: morefs(o.affectedHosts),
    referencedByTags: arr(o.referencedByTags).map((t) => str(t) ?? ''),
  };
  const available = bool(o.keyAvailable);
  if (available !== undefined) out.keyAvailable = available;
  const reason = str(o.reason);
  if (reason !== undefined) out.reason = reason;
  return out;
}

export function entityPrivilege(v: Decoded): EntityPrivilege | undefined {
  const o = obj(v);
  const entity = moref(o.entity);
  if (!entity) return undefined;
  return {
    entity,
    privAvailability: arr(o.privAvailability).map((p) => ({ privId: str(obj(p).privId) ?? '', isGranted: bool(obj(p).isGranted) ?? false })),
  };
}

/** eventTypeId of every EventAlarmExpression in an alarm expression tree (Or/And nest). */
export function alarmEventTypeIds(expression: unknown): string[] {
  const out: string[] = [];
  const walk = (e: unknown): void => {
    for (const item of arr(e)) {
      const o = obj(item);
      const id = str(o.eventTypeId);
      if (id) out.push(id);
      else if (o._type === 'EventAlarmExpression' && str(o.eventType)) out.push(str(o.eventType) as string);
      if (o.expression !== undefined) walk(o.expression);
    }
  };
  walk(expression);
  return out;
}
