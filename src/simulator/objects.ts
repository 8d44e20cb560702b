/**
 * Managed objects by id: their type and their properties at any dotted path.
 * World objects (VMs, hosts, folders, ...) read the world; session-scoped ones
 * (views, filters, collectors) read the calling session. Unknown paths raise
 * InvalidProperty; unset values are undefined.
 */
import type { SimContext } from './context.ts';
import { eventMatcher, eventsArray, eventToXVal } from './events.ts';
import { faults } from './fault.ts';
import type { ObjectAccess } from './selection.ts';
import type { Session } from './sessions.ts';
import { taskInfoXVal } from './tasks.ts';
import { hostGetters, vmGetters } from './vm-xml.ts';
import { LOCKED_ALARM_NAME, EVENT_LOCKED_HOST, EVENT_LOCKED_KMS, EVENT_LOCKED_KMS_ERROR, type World } from './world.ts';
import { arr, bool, date, enm, int, obj, ref, refArr, str, strArr, walk, type XVal } from './xml.ts';

/** Singleton managed objects: id → type. */
export const SINGLETONS: Record<string, string> = {
  ServiceInstance: 'ServiceInstance',
  SessionManager: 'SessionManager',
  ViewManager: 'ViewManager',
  propertyCollector: 'PropertyCollector',
  TaskManager: 'TaskManager',
  EventManager: 'EventManager',
  AlarmManager: 'AlarmManager',
  AuthorizationManager: 'AuthorizationManager',
  CryptoManager: 'CryptoManagerKmip',
};

const BASES: Record<string, string[]> = {
  ManagedEntity: ['Folder', 'Datacenter', 'ClusterComputeResource', 'ComputeResource', 'HostSystem', 'VirtualMachine', 'Datastore', 'ResourcePool'],
  ComputeResource: ['ClusterComputeResource'],
  CryptoManager: ['CryptoManagerKmip', 'CryptoManagerHost', 'CryptoManagerHostKMS'],
  CryptoManagerHost: ['CryptoManagerHostKMS'],
  HistoryCollector: ['EventHistoryCollector'],
  View: ['ContainerView'],
  ManagedObjectView: ['ContainerView'],
  ExtensibleManagedObject: ['Alarm', 'Folder', 'Datacenter', 'ClusterComputeResource', 'HostSystem', 'VirtualMachine', 'Datastore'],
};

export function isA(type: string, base: string): boolean {
  return type === base || (BASES[base]?.includes(type) ?? false);
}

type Props = Record<string, (id: string) => XVal | undefined>;

/** The property at a dotted path: a getter of the whole path, else the getter of its first part, walked down. */
function propertyAt<G>(getters: Record<string, G>, path: string, read: (getter: G) => XVal | undefined): XVal | undefined {
  const direct = getters[path];
  if (direct) return read(direct);
  const parts = path.split('.');
  const top = getters[parts[0] as string];
  if (!top) throw faults.invalidProperty(path);
  return walk(read(top), parts, 1);
}

export function serviceContentXVal(ctx: SimContext): XVal {
  const w = ctx.world;
  const m = (field: string, type: string, id: string): [string, XVal] => [field, ref(type, id)];
  return obj('ServiceContent', [
    m('rootFolder', 'Folder', w.rootFolderId),
    m('propertyCollector', 'PropertyCollector', 'propertyCollector'),
    m('viewManager', 'ViewManager', 'ViewManager'),
    [
      'about',
      obj('AboutInfo', [
        ['name', str('VMware vCenter Server')],
        ['fullName', str(w.apiVersion === '6.5' ? 'VMware vCenter Server 6.5.0 build-7312210 (vmlock simulator)' : 'VMware vCenter Server 8.0.3 build-24022515 (vmlock simulator)')],
        ['vendor', str('VMware, Inc.')],
        ['version', str(w.apiVersion === '6.5' ? '6.5.0' : '8.0.3')],
        ['patchLevel', str('')],
        ['build', str(w.apiVersion === '6.5' ? '7312210' : '24022515')],
        ['localeVersion', str('INTL')],
        ['localeBuild', str('000')],
        ['osType', str('linux-x64')],
        ['productLineId', str('vpx')],
        ['apiType', str('VirtualCenter')],
        ['apiVersion', str(w.apiVersion === '6.5' ? '6.5' : '8.0.3.0')],
        ['instanceUuid', str(ctx.instanceUuid)],
        ['licenseProductName', str('VMware VirtualCenter Server')],
        ['licenseProductVersion', str(w.apiVersion === '6.5' ? '6.0' : '8.0')],
      ]),
    ],
    m('sessionManager', 'SessionManager', 'SessionManager'),
    m('authorizationManager', 'AuthorizationManager', 'AuthorizationManager'),
    m('alarmManager', 'AlarmManager', 'AlarmManager'),
    m('eventManager', 'EventManager', 'EventManager'),
    m('taskManager', 'TaskManager', 'TaskManager'),
    m('cryptoManager', 'CryptoManagerKmip', 'CryptoManager'),
  ]);
}

export function alarmInfoXVal(w: World): XVal {
  const expr = (eventTypeId: string): XVal =>
    obj('EventAlarmExpression', [['eventType', str('EventEx')], ['eventTypeId', str(eventTypeId)], ['objectType', str('VirtualMachine')], ['status', enm('ManagedEntityStatus', 'red')]], true);
  return obj('AlarmInfo', [
    ['name', str(LOCKED_ALARM_NAME)],
    ['systemName', str('alarm.VmCryptoLockedAlarm')],
    ['description', str('Default alarm that fires when an encrypted virtual machine is locked')],
    ['enabled', bool(true)],
    ['expression', obj('OrAlarmExpression', [['expression', { k: 'a', item: 'AlarmExpression', items: [expr(EVENT_LOCKED_HOST), expr(EVENT_LOCKED_KMS), expr(EVENT_LOCKED_KMS_ERROR)] }]], true)],
    ['actionFrequency', int(0)],
    ['key', str(w.alarm.id)],
    ['alarm', ref('Alarm', w.alarm.id)],
    ['entity', ref('Folder', w.rootFolderId)],
    ['lastModifiedTime', date(w.alarm.created)],
    ['lastModifiedUser', str('')],
    ['creationEventId', int(0)],
  ]);
}

export function kmipClustersXVal(w: World): XVal {
  return {
    k: 'a',
    item: 'KmipClusterInfo',
    items: [...w.kmsClusters.values()].map((c) =>
      obj('KmipClusterInfo', [
        ['clusterId', obj('KeyProviderId', [['id', str(c.id)]])],
        ['servers', { k: 'a', item: 'KmipServerInfo', items: c.servers.map((s) => obj('KmipServerInfo', [['name', str(s.name)], ['address', str(s.address)], ['port', int(s.port)]])) }],
        ['useAsDefault', bool(c.useAsDefault)],
        ['managementType', str('vCenter')],
      ]),
    ),
  };
}

/** The property tables of every type, for one calling session. */
export class ObjectRegistry implements ObjectAccess {
  private readonly tables: Record<string, Props>;

  constructor(
    private readonly ctx: SimContext,
    private readonly session: Session | undefined,
  ) {
    this.tables = this.buildTables();
  }

  typeOf(id: string): string | undefined {
    const t = this.ctx.world.types.get(id) ?? SINGLETONS[id];
    if (t) return t;
    const s = this.session;
    if (!s || !id.startsWith('session[')) return undefined;
    if (s.views.has(id)) return 'ContainerView';
    if (s.collectors.has(id)) return 'PropertyCollector';
    if (s.eventCollectors.has(id)) return 'EventHistoryCollector';
    for (const c of s.collectors.values()) if (c.filters.has(id)) return 'PropertyFilter';
    return undefined;
  }

  isA(type: string, base: string): boolean {
    return isA(type, base);
  }

  allProps(type: string): string[] {
    if (type === 'VirtualMachine') return ['name', 'parent', 'config', 'runtime', 'datastore', 'triggeredAlarmState', 'overallStatus', 'summary'];
    if (type === 'HostSystem') return ['name', 'parent', 'runtime', 'configManager', 'vm', 'datastore', 'triggeredAlarmState', 'overallStatus'];
    return Object.keys(this.tables[type] ?? {}).filter((k) => !k.includes('.'));
  }

  get(id: string, path: string): XVal | undefined {
    const type = this.typeOf(id);
    if (!type) throw faults.notFound({ type: 'ManagedObject', value: id });
    const w = this.ctx.world;
    if (type === 'VirtualMachine') {
      const vm = w.vms.get(id);
      if (!vm) throw faults.notFound({ type, value: id });
      return propertyAt(vmGetters, path, (get) => get(w, vm));
    }
    if (type === 'HostSystem') {
      const h = w.hosts.get(id);
      if (!h) throw faults.notFound({ type, value: id });
      return propertyAt(hostGetters, path, (get) => get(w, h));
    }
    const table = this.tables[type];
    if (!table) throw faults.invalidProperty(path);
    return propertyAt(table, path, (get) => get(id));
  }

  private buildTables(): Record<string, Props> {
    const ctx = this.ctx;
    const w = ctx.world;
    const s = this.session;
    const noAlarms = (): XVal => ({ k: 'a', item: 'AlarmState', items: [] });
    const green = (): XVal => enm('ManagedEntityStatus', 'green');
    const childRef = (id: string) => ({ type: w.typeOf(id) ?? 'ManagedEntity', value: id });
    return {
      Folder: {
        name: (id) => str(w.folders.get(id)?.name ?? id),
        parent: (id) => {
          const p = w.folders.get(id)?.parentId;
          return p ? ref(w.typeOf(p) ?? 'Folder', p) : undefined;
        },
        childEntity: (id) => refArr((w.folders.get(id)?.children ?? []).map(childRef)),
        childType: (id) => strArr(w.folders.get(id)?.childType ?? []),
        overallStatus: green,
        triggeredAlarmState: noAlarms,
      },
      Datacenter: {
        name: () => str(w.datacenter.name),
        parent: () => ref('Folder', w.rootFolderId),
        vmFolder: () => ref('Folder', w.datacenter.vmFolderId),
        hostFolder: () => ref('Folder', w.datacenter.hostFolderId),
        datastoreFolder: () => ref('Folder', w.datacenter.datastoreFolderId),
        networkFolder: () => ref('Folder', w.datacenter.networkFolderId),
        datastore: () => refArr([...w.datastores.keys()].map((id) => ({ type: 'Datastore', value: id }))),
        overallStatus: green,
        triggeredAlarmState: noAlarms,
      },
      ClusterComputeResource: {
        name: () => str(w.cluster.name),
        parent: () => ref('Folder', w.datacenter.hostFolderId),
        host: () => refArr(w.cluster.hostIds.map((id) => ({ type: 'HostSystem', value: id }))),
        datastore: () => refArr([...w.datastores.keys()].map((id) => ({ type: 'Datastore', value: id }))),
        overallStatus: green,
        triggeredAlarmState: noAlarms,
      },
      Datastore: {
        name: (id) => str(w.datastores.get(id)?.name ?? id),
        parent: () => ref('Folder', w.datacenter.datastoreFolderId),
        overallStatus: green,
        triggeredAlarmState: noAlarms,
      },
      Alarm: { info: () => alarmInfoXVal(w) },
      Task: {
        info: (id) => {
          const t = ctx.tasks.get(id);
          if (!t) throw faults.notFound({ type: 'Task', value: id });
          return taskInfoXVal(t);
        },
      },
      TaskManager: {
        recentTask: () => refArr(ctx.tasks.recent().map((id) => ({ type: 'Task', value: id }))),
        maxCollector: () => int(100),
      },
      ContainerView: {
        view: (id) => {
          const v = s?.views.get(id);
          return v ? refArr(this.viewMembers(v.container, v.types, v.recursive)) : undefined;
        },
        container: (id) => {
          const v = s?.views.get(id);
          return v ? ref(w.typeOf(v.container) ?? 'Folder', v.container) : undefined;
        },
        type: (id) => strArr(s?.views.get(id)?.types ?? []),
        recursive: (id) => bool(s?.views.get(id)?.recursive ?? false),
      },
      PropertyCollector: {
        filter: (id) => refArr([...(s?.collectors.get(id)?.filters.keys() ?? [])].map((f) => ({ type: 'PropertyFilter', value: f }))),
      },
      PropertyFilter: {
        partialUpdates: (id) => {
          for (const c of s?.collectors.values() ?? []) {
            const f = c.filters.get(id);
            if (f) return bool(f.partialUpdates);
          }
          return undefined;
        },
      },
      EventHistoryCollector: {
        latestPage: (id) => {
          const ec = s?.eventCollectors.get(id);
          if (!ec) return undefined;
          return eventsArray(w.events.latestMatching(ec.pageSize, eventMatcher(ec.filter, (a, b) => w.contains(a, b))));
        },
      },
      EventManager: {
        latestEvent: () => {
          const ev = w.events.latest;
          return ev ? eventToXVal(ev) : undefined;
        },
        maxCollector: () => int(100),
      },
      AlarmManager: {
        defaultExpression: () => arr('AlarmExpression', []),
      },
      AuthorizationManager: {
        privilegeList: () => arr('AuthorizationPrivilege', []),
      },
      SessionManager: {
        currentSession: () => (s ? userSessionXVal(s) : undefined),
      },
      ServiceInstance: {
        content: () => serviceContentXVal(ctx),
        serverClock: () => date(Date.now()),
      },
      ViewManager: {
        viewList: () => refArr([...(s?.views.keys() ?? [])].map((v) => ({ type: 'ContainerView', value: v }))),
      },
      CryptoManagerKmip: {
        enabled: () => bool(true),
        kmipServers: () => kmipClustersXVal(w),
      },
      CryptoManagerHostKMS: {
        enabled: () => bool(true),
      },
    };
  }

  /** Members of a ContainerView: entities below the container of the given types. */
  viewMembers(container: string, types: string[], recursive: boolean): { type: string; value: string }[] {
    const w = this.ctx.world;
    const want = (t: string): boolean => types.length === 0 || types.some((b) => isA(t, b));
    const out: { type: string; value: string }[] = [];
    // The two big collections are listed directly (cheap at 10k VMs).
    if (types.length > 0 && types.every((t) => t === 'VirtualMachine')) {
      for (const vm of w.vms.values()) if (recursive ? w.contains(vm.folderId, container) || container === vm.hostId : vm.folderId === container) out.push({ type: 'VirtualMachine', value: vm.id });
      return out;
    }
    if (types.length > 0 && types.every((t) => t === 'HostSystem')) {
      for (const h of w.hosts.values()) if (recursive ? w.contains(h.id, container) : h.clusterId === container) out.push({ type: 'HostSystem', value: h.id });
      return out;
    }
    const all = [...w.folders.keys(), w.datacenter.id, w.cluster.id, ...w.hosts.keys(), ...w.vms.keys(), ...w.datastores.keys()];
    for (const id of all) {
      if (id === container) continue;
      const t = w.typeOf(id) as string;
      if (!want(t)) continue;
      if (recursive ? w.contains(id, container) : w.parentOf(id) === container) out.push({ type: t, value: id });
    }
    return out;
  }
}

export function userSessionXVal(s: Session): XVal {
  return obj('UserSession', [
    ['key', str(s.key)],
    ['userName', str(s.userName)],
    ['fullName', str(s.userName)],
    ['loginTime', date(s.loginTime)],
    ['lastActiveTime', date(s.lastActive)],
    ['locale', str('en')],
    ['messageLocale', str('en')],
    ['extensionSession', bool(false)],
    ['ipAddress', str(s.ipAddress)],
    ['userAgent', str(s.userAgent)],
    ['callCount', long0(s.callCount)],
  ]);
}

function long0(n: number): XVal {
  return { k: 'p', t: 'xsd:long', v: String(n) };
}
