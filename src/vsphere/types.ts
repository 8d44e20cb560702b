/**
 * Normalised vim25 values as vmlock uses them. The SOAP layer turns responses
 * into these shapes: MoRefs as {type, value}, arrays always arrays, enums as
 * strings, dates as Date. Field names follow vim25 (govmomi vim25/types).
 */

export interface MoRef {
  type: string;
  value: string;
}

export interface KeyProviderId {
  id: string;
}

/** vim25 CryptoKeyId: element order keyId, providerId. */
export interface CryptoKeyId {
  keyId: string;
  providerId?: KeyProviderId;
}

export type VmPowerState = 'poweredOn' | 'poweredOff' | 'suspended';
/** vim25 VirtualMachineConnectionState. */
export type VmConnectionState = 'connected' | 'disconnected' | 'orphaned' | 'inaccessible' | 'invalid';
/** vim25 VirtualMachineCryptoState (6.7+); absent on 6.5. */
export type VmCryptoState = 'locked' | 'unlocked';
/** vim25 HostCryptoState. */
export type HostCryptoState = 'incapable' | 'prepared' | 'safe' | 'pendingIncapable';
export type ManagedEntityStatus = 'gray' | 'green' | 'yellow' | 'red';

/** vim25 AlarmState (ManagedEntity.triggeredAlarmState element). */
export interface AlarmState {
  key: string;
  entity: MoRef;
  alarm: MoRef;
  overallStatus: ManagedEntityStatus | string;
  time: Date;
  acknowledged?: boolean;
  acknowledgedByUser?: string;
  acknowledgedTime?: Date;
  eventKey?: number;
  disabled?: boolean;
}

/** The few properties the poller watches and reconciles, per VM. */
export interface VmStateSummary {
  moref: MoRef;
  name: string;
  powerState?: VmPowerState | string;
  connectionState?: VmConnectionState | string;
  /** Undefined on vCenters before 6.7. */
  cryptoState?: VmCryptoState | string;
  /** config.keyId: set when the VM home is encrypted. */
  keyId?: CryptoKeyId;
  triggeredAlarmState: AlarmState[];
}

export type DiskControllerKind = 'scsi' | 'sata' | 'nvme' | 'ide' | 'other';

/** One VirtualDisk of a VM, with the keys of its whole backing chain. */
export interface VirtualDiskInfo {
  /** VirtualDevice.key: how ReconfigVM_Task and the boot order name the disk. */
  key: number;
  label: string;
  controllerKey: number;
  controller: { kind: DiskControllerKind; busNumber: number } | undefined;
  unitNumber?: number;
  /** backing.fileName, e.g. "[ds1] vm-1/vm-1_1.vmdk". */
  fileName: string;
  /** xsi:type of the backing, e.g. VirtualDiskFlatVer2BackingInfo. */
  backingType: string;
  /** backing.keyId of the disk itself. */
  keyId?: CryptoKeyId;
  /** keyId of each backing.parent, nearest first (snapshot/delta chains). */
  parentKeyIds: CryptoKeyId[];
  capacityInKB?: number;
  datastore?: MoRef;
}

/** One config.bootOptions.bootOrder entry, dispatched on xsi:type. */
export type BootOrderEntry =
  | { kind: 'disk'; deviceKey: number }
  | { kind: 'ethernet'; deviceKey: number }
  | { kind: 'cdrom' }
  | { kind: 'floppy' }
  | { kind: 'unknown'; type: string };

/** Everything diagnosis needs about one VM, read in one RetrievePropertiesEx for many VMs. */
export interface VmCryptoSnapshot extends VmStateSummary {
  host?: MoRef;
  /** The VM's parent folder (where Cryptographer.RegisterVM is checked). */
  parent?: MoRef;
  /** config.files.vmPathName, e.g. "[ds1] vm-1/vm-1.vmx" (for reload from path). */
  vmPathName?: string;
  disks: VirtualDiskInfo[];
  bootOrder: BootOrderEntry[];
  firmware?: string;
  /** Selected extraConfig values (bios.bootOrder, bios.hddOrder) when present. */
  extraConfig: Record<string, string>;
  datastores: MoRef[];
}

export interface HostCryptoInfo {
  moref: MoRef;
  name: string;
  /** Undefined: the host does not support crypto-safe mode. */
  cryptoState?: HostCryptoState | string;
  connectionState?: string;
  /** configManager.cryptoManager (CryptoManagerHost/CryptoManagerHostKMS). */
  cryptoManager?: MoRef;
}

/** vim25 CryptoManagerKmipCryptoKeyStatus. */
export interface CryptoKeyStatus {
  keyId: CryptoKeyId;
  keyAvailable?: boolean;
  /** CryptoManagerKmipCryptoKeyStatusKeyUnavailableReason; unknown values are kept as they are. */
  reason?: string;
  encryptedVMs: MoRef[];
  affectedHosts: MoRef[];
  referencedByTags: string[];
}

/** checkKeyBitMap bits of QueryCryptoKeyStatus. */
export const CheckKey = { available: 0x01, usedByVms: 0x02, usedByHosts: 0x04, usedByOther: 0x08 } as const;

export interface KmipServerInfo {
  name: string;
  address: string;
  port: number;
}

export interface KmipClusterInfo {
  clusterId: KeyProviderId;
  servers: KmipServerInfo[];
  useAsDefault: boolean;
  managementType?: string;
}

export interface KmipClusterStatus {
  clusterId: KeyProviderId;
  overallStatus?: ManagedEntityStatus | string;
  managementType?: string;
  servers: { name: string; status?: ManagedEntityStatus | string; connectionStatus: string }[];
}

export interface EntityPrivilege {
  entity: MoRef;
  privAvailability: { privId: string; isGranted: boolean }[];
}

export interface AlarmDefinition {
  moref: MoRef;
  name: string;
  systemName?: string;
  /** eventTypeId of every EventAlarmExpression in the alarm's expression tree. */
  eventTypeIds: string[];
  enabled: boolean;
}

/** An Event, dispatched on xsi:type. Unknown types keep their type name and raw fields. */
export interface VimEvent {
  /** xsi:type, e.g. EventEx, AlarmStatusChangedEvent, or an unknown type name. */
  type: string;
  /** int32; may be negative on some vCenters. A unique id, not a sequence number. */
  key: number;
  chainId: number;
  createdTime: Date;
  userName?: string;
  vm?: { vm: MoRef; name: string };
  host?: { host: MoRef; name: string };
  fullFormattedMessage?: string;
  /** EventEx / ExtendedEvent. */
  eventTypeId?: string;
  severity?: string;
  objectId?: string;
  objectType?: string;
  /** AlarmEvent family. */
  alarm?: { alarm: MoRef; name: string };
  entity?: { entity: MoRef; name: string };
  from?: string;
  to?: string;
  /** Fields not mapped above, as parsed. */
  raw: Record<string, unknown>;
}

export interface EventFilter {
  /** EventFilterSpec.eventTypeId: matches EventEx.eventTypeId or the class name. */
  eventTypeId?: string[];
  beginTime?: Date;
  entity?: { entity: MoRef; recursion: 'self' | 'children' | 'all' };
  maxCount?: number;
}

export type TaskState = 'queued' | 'running' | 'success' | 'error';

export interface TaskInfo {
  key: string;
  task: MoRef;
  name?: string;
  descriptionId?: string;
  entity?: MoRef;
  state: TaskState;
  /** Set when state is error: the typed fault (see faults.ts). */
  error?: Error;
  result?: unknown;
  queueTime?: Date;
  startTime?: Date;
  completeTime?: Date;
}

/** A PropertyCollector ObjectUpdate, normalised. */
export interface ObjectUpdate {
  kind: 'enter' | 'modify' | 'leave';
  obj: MoRef;
  changeSet: { name: string; op: 'add' | 'remove' | 'assign' | 'indirectRemove'; val?: unknown }[];
  missingSet: { path: string; fault: Error }[];
}

export interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager?: MoRef;
  sessionManager?: MoRef;
  authorizationManager?: MoRef;
  eventManager?: MoRef;
  alarmManager?: MoRef;
  taskManager?: MoRef;
  cryptoManager?: MoRef;
  about: { name?: string; fullName?: string; version: string; apiVersion: string; apiType?: string; instanceUuid?: string };
}
