/**
 * VirtualMachine and HostSystem property values as vim25 data objects, in
 * govmomi element order. Hot paths (runtime.cryptoState, config.keyId, ...) have
 * direct getters so a 10k-VM read never builds whole config objects.
 */
import type { SimDisk, SimDiskLink, SimHost, SimVm } from './model.ts';
import { cryptoKeyXVal, type World } from './world.ts';
import { arr, bool, date, enm, int, long, obj, ref, refArr, str, type XObj, type XVal } from './xml.ts';

const description = (label: string, summary: string): XObj =>
  obj('Description', [['label', str(label)], ['summary', str(summary)]], true);

function backingXVal(vm: SimVm, type: string, link: SimDiskLink, parents: SimDiskLink[], d: SimDisk, nested: boolean): XObj {
  const parent = parents[0] ? backingXVal(vm, type, parents[0], parents.slice(1), d, true) : undefined;
  const f: [string, XVal | undefined][] = [
    ['fileName', str(link.fileName)],
    ['datastore', ref('Datastore', vm.datastoreId)],
    ['diskMode', str('persistent')],
  ];
  if (type === 'VirtualDiskFlatVer2BackingInfo') {
    f.push(
      ['split', bool(false)],
      ['writeThrough', bool(false)],
      ['thinProvisioned', bool(true)],
      ['eagerlyScrub', bool(false)],
      // A parent link is another file: give it its own (derived) uuid.
      ['uuid', str(nested ? `${d.uuid.slice(0, -4)}${link.fileName.length.toString(16).padStart(4, '0')}` : d.uuid)],
      ['parent', parent],
      ['deltaDiskFormat', parents.length || nested ? str('redoLogFormat') : undefined],
      ['digestEnabled', bool(false)],
    );
  } else if (type === 'VirtualDiskSeSparseBackingInfo') {
    f.push(['writeThrough', bool(false)], ['uuid', str(d.uuid)], ['parent', parent], ['deltaDiskFormat', str('seSparseFormat')], ['digestEnabled', bool(false)], ['grainSize', int(4)]);
  } else {
    f.push(['split', bool(false)], ['writeThrough', bool(false)], ['uuid', str(d.uuid)], ['parent', parent]);
  }
  f.push(['keyId', link.keyId ? cryptoKeyXVal(link.keyId) : undefined]);
  return obj(type, f, true);
}

function diskXVal(vm: SimVm, d: SimDisk): XObj {
  return obj(
    'VirtualDisk',
    [
      ['key', int(d.key)],
      ['deviceInfo', description(d.label, `${d.capacityKB.toLocaleString('en-US')} KB`)],
      ['backing', backingXVal(vm, d.backingType, d, d.parents, d, false)],
      ['controllerKey', int(d.controllerKey)],
      ['unitNumber', int(d.unitNumber)],
      ['capacityInKB', long(d.capacityKB)],
      ['capacityInBytes', long(d.capacityKB * 1024)],
    ],
    true,
  );
}

/** config.hardware.device: controllers, disks, a CD-ROM-less minimal set plus one NIC. */
export function devicesXVal(vm: SimVm): XVal {
  const items: XVal[] = [];
  for (const c of vm.controllers) {
    const f: [string, XVal | undefined][] = [
      ['key', int(c.key)],
      ['deviceInfo', description(`${c.type} ${c.busNumber}`, c.type)],
      ['controllerKey', c.type === 'VirtualIDEController' ? undefined : int(100)],
      ['busNumber', int(c.busNumber)],
    ];
    const children = vm.disks.filter((d) => d.controllerKey === c.key).map((d) => int(d.key));
    if (children.length) f.push(['device', arr('int', children)]);
    if (c.type === 'ParaVirtualSCSIController' || c.type === 'VirtualLsiLogicController') {
      f.push(['hotAddRemove', bool(true)], ['sharedBus', enm('VirtualSCSISharing', 'noSharing')], ['scsiCtlrUnitNumber', int(7)]);
    }
    items.push(obj(c.type, f, true));
  }
  for (const d of vm.disks) items.push(diskXVal(vm, d));
  items.push(
    obj(
      'VirtualVmxnet3',
      [
        ['key', int(vm.nicKey)],
        ['deviceInfo', description('Network adapter 1', 'VM Network')],
        ['backing', obj('VirtualEthernetCardNetworkBackingInfo', [['deviceName', str('VM Network')]], true)],
        ['controllerKey', int(100)],
        ['unitNumber', int(7)],
        ['addressType', str('assigned')],
        ['macAddress', str(`00:50:56:${vm.uuid.slice(0, 2)}:${vm.uuid.slice(2, 4)}:${vm.uuid.slice(4, 6)}`)],
      ],
      true,
    ),
  );
  return { k: 'a', item: 'VirtualDevice', items };
}

export function bootOptionsXVal(vm: SimVm): XObj {
  const order: XVal[] = vm.bootOrder.map((b) =>
    b.kind === 'disk'
      ? obj('VirtualMachineBootOptionsBootableDiskDevice', [['deviceKey', int(b.deviceKey)]], true)
      : b.kind === 'ethernet'
        ? obj('VirtualMachineBootOptionsBootableEthernetDevice', [['deviceKey', int(b.deviceKey)]], true)
        : obj('VirtualMachineBootOptionsBootableCdromDevice', [], true),
  );
  return obj('VirtualMachineBootOptions', [
    ['bootDelay', long(0)],
    ['enterBIOSSetup', bool(false)],
    ['efiSecureBootEnabled', vm.firmware === 'efi' ? bool(false) : undefined],
    ['bootRetryEnabled', bool(false)],
    ['bootRetryDelay', long(10000)],
    ['bootOrder', order.length ? { k: 'a', item: 'VirtualMachineBootOptionsBootableDevice', items: order } : undefined],
  ]);
}

export function extraConfigXVal(vm: SimVm): XVal {
  return {
    k: 'a',
    item: 'OptionValue',
    items: Object.entries(vm.extraConfig).map(([key, value]) => obj('OptionValue', [['key', str(key)], ['value', { ...str(value), poly: true }]], true)),
  };
}

export function alarmStatesXVal(world: World, entityType: string, entityId: string, states: SimVm['alarms']): XVal {
  return {
    k: 'a',
    item: 'AlarmState',
    items: states.map((a) =>
      obj('AlarmState', [
        ['key', str(a.key)],
        ['entity', ref(entityType, entityId)],
        ['alarm', ref('Alarm', a.alarmId)],
        ['overallStatus', enm('ManagedEntityStatus', a.overallStatus)],
        ['time', date(a.time)],
        ['acknowledged', bool(a.acknowledged)],
        ['acknowledgedByUser', a.acknowledgedByUser === undefined ? undefined : str(a.acknowledgedByUser)],
        ['acknowledgedTime', a.acknowledgedTime === undefined ? undefined : date(a.acknowledgedTime)],
        ['eventKey', a.eventKey === undefined ? undefined : int(a.eventKey)],
      ]),
    ),
  };
}

function vmRuntime(world: World, vm: SimVm): XObj {
  const connection = world.connectionState(vm);
  return obj('VirtualMachineRuntimeInfo', [
    ['host', ref('HostSystem', vm.hostId)],
    ['connectionState', enm('VirtualMachineConnectionState', connection)],
    ['powerState', enm('VirtualMachinePowerState', vm.powerState)],
    ['faultToleranceState', enm('VirtualMachineFaultToleranceState', 'notConfigured')],
    ['toolsInstallerMounted', bool(false)],
    ['maxCpuUsage', int(2400)],
    ['maxMemoryUsage', int(4096)],
    ['numMksConnections', int(0)],
    ['consolidationNeeded', bool(false)],
    ['cryptoState', world.apiVersion === '6.5' ? undefined : enm('VirtualMachineCryptoState', world.cryptoState(vm))],
  ]);
}

function vmConfig(world: World, vm: SimVm): XObj {
  const dir = vm.vmPathName.replace(/\/[^/]*$/, '');
  return obj('VirtualMachineConfigInfo', [
    ['changeVersion', str(String(vm.changeVersion))],
    ['modified', date(0)],
    ['name', str(vm.name)],
    ['guestFullName', str('Other Linux (64-bit)')],
    ['version', str('vmx-19')],
    ['uuid', str(vm.uuid)],
    ['instanceUuid', str(vm.uuid.split('').reverse().join(''))],
    ['template', bool(false)],
    ['guestId', str('otherLinux64Guest')],
    ['alternateGuestName', str('')],
    [
      'files',
      obj('VirtualMachineFileInfo', [
        ['vmPathName', str(vm.vmPathName)],
        ['snapshotDirectory', str(dir)],
        ['suspendDirectory', str(dir)],
        ['logDirectory', str(dir)],
      ]),
    ],
    ['hardware', obj('VirtualHardware', [['numCPU', int(2)], ['numCoresPerSocket', int(1)], ['memoryMB', int(4096)], ['device', devicesXVal(vm)]])],
    ['extraConfig', extraConfigXVal(vm)],
    ['bootOptions', bootOptionsXVal(vm)],
    ['firmware', str(vm.firmware)],
    ['keyId', vm.homeKey ? cryptoKeyXVal(vm.homeKey) : undefined],
    ['migrateEncryption', vm.homeKey ? str('required') : str('opportunistic')],
  ]);
}

function vmSummary(world: World, vm: SimVm): XObj {
  return obj('VirtualMachineSummary', [
    ['vm', ref('VirtualMachine', vm.id)],
    ['runtime', vmRuntime(world, vm)],
    [
      'config',
      obj('VirtualMachineConfigSummary', [
        ['name', str(vm.name)],
        ['template', bool(false)],
        ['vmPathName', str(vm.vmPathName)],
        ['memorySizeMB', int(4096)],
        ['numCpu', int(2)],
        ['numVirtualDisks', int(vm.disks.length)],
        ['uuid', str(vm.uuid)],
        ['guestId', str('otherLinux64Guest')],
      ]),
    ],
    ['overallStatus', enm('ManagedEntityStatus', vm.alarms.some((a) => a.overallStatus === 'red') ? 'red' : 'green')],
  ]);
}

type Getter<T> = (world: World, o: T) => XVal | undefined;

/** Direct getters of full paths; the rest is walked from the top-level value. */
export const vmGetters: Record<string, Getter<SimVm>> = {
  name: (_w, vm) => str(vm.name),
  parent: (_w, vm) => ref('Folder', vm.folderId),
  datastore: (_w, vm) => refArr([{ type: 'Datastore', value: vm.datastoreId }]),
  resourcePool: (w) => ref('ResourcePool', `resgroup-${w.cluster.id.slice(9)}`),
  overallStatus: (_w, vm) => enm('ManagedEntityStatus', vm.alarms.some((a) => a.overallStatus === 'red') ? 'red' : 'green'),
  triggeredAlarmState: (w, vm) => alarmStatesXVal(w, 'VirtualMachine', vm.id, vm.alarms),
  declaredAlarmState: (w, vm) => alarmStatesXVal(w, 'VirtualMachine', vm.id, []),
  disabledMethod: () => ({ k: 'a', item: 'string', items: [] }),
  runtime: vmRuntime,
  'runtime.host': (_w, vm) => ref('HostSystem', vm.hostId),
  'runtime.powerState': (_w, vm) => enm('VirtualMachinePowerState', vm.powerState),
  'runtime.connectionState': (w, vm) => enm('VirtualMachineConnectionState', w.connectionState(vm)),
  'runtime.cryptoState': (w, vm) => (w.apiVersion === '6.5' ? undefined : enm('VirtualMachineCryptoState', w.cryptoState(vm))),
  config: vmConfig,
  'config.keyId': (_w, vm) => (vm.homeKey ? cryptoKeyXVal(vm.homeKey) : undefined),
  'config.hardware.device': (_w, vm) => devicesXVal(vm),
  'config.bootOptions': (_w, vm) => bootOptionsXVal(vm),
  'config.firmware': (_w, vm) => str(vm.firmware),
  'config.extraConfig': (_w, vm) => extraConfigXVal(vm),
  'config.files.vmPathName': (_w, vm) => str(vm.vmPathName),
  'config.name': (_w, vm) => str(vm.name),
  summary: vmSummary,
};

function hostRuntime(_w: World, h: SimHost): XObj {
  return obj('HostRuntimeInfo', [
    ['connectionState', enm('HostSystemConnectionState', h.connectionState)],
    ['powerState', enm('HostSystemPowerState', h.connectionState === 'connected' ? 'poweredOn' : 'unknown')],
    ['inMaintenanceMode', bool(false)],
    ['inQuarantineMode', bool(false)],
    ['bootTime', date(h.bootTime)],
    ['cryptoState', str(h.cryptoState)],
    ['cryptoKeyId', h.hostKey ? cryptoKeyXVal(h.hostKey) : undefined],
  ]);
}

export const hostGetters: Record<string, Getter<SimHost>> = {
  name: (_w, h) => str(h.name),
  parent: (_w, h) => ref('ClusterComputeResource', h.clusterId),
  vm: (_w, h) => refArr([...h.vms].map((id) => ({ type: 'VirtualMachine', value: id }))),
  datastore: (w) => refArr([...w.datastores.keys()].map((id) => ({ type: 'Datastore', value: id }))),
  overallStatus: () => enm('ManagedEntityStatus', 'green'),
  triggeredAlarmState: () => ({ k: 'a', item: 'AlarmState', items: [] }),
  runtime: hostRuntime,
  'runtime.cryptoState': (_w, h) => str(h.cryptoState),
  'runtime.connectionState': (_w, h) => enm('HostSystemConnectionState', h.connectionState),
  configManager: (_w, h) => obj('HostConfigManager', [['cryptoManager', ref('CryptoManagerHostKMS', h.cryptoManagerId)]]),
  'configManager.cryptoManager': (_w, h) => ref('CryptoManagerHostKMS', h.cryptoManagerId),
  summary: (w, h) =>
    obj('HostListSummary', [
      ['host', ref('HostSystem', h.id)],
      ['runtime', hostRuntime(w, h)],
      ['overallStatus', enm('ManagedEntityStatus', 'green')],
    ]),
};
