/**
 * The simulated vCenter's world: inventory, hosts with their key caches, VMs
 * with their keys and disks, and the KMS. Plain data; the rules that derive
 * state from it live in world.ts.
 */

/** A key as vim25 CryptoKeyId names it: keyId plus the provider (KMS cluster) id. */
export interface KeyRef {
  keyId: string;
  providerId: string;
}

/** Identity of a key inside maps and host caches. */
export function keyName(k: KeyRef): string {
  return `${k.providerId}/${k.keyId}`;
}

export type KmsKeyState = 'active' | 'inactive';

export interface KmsServer {
  name: string;
  address: string;
  port: number;
}

export interface KmsCluster {
  id: string;
  servers: KmsServer[];
  reachable: boolean;
  useAsDefault: boolean;
}

export type HostCryptoStateName = 'incapable' | 'prepared' | 'safe' | 'pendingIncapable';

export interface SimHost {
  id: string;
  name: string;
  clusterId: string;
  cryptoState: HostCryptoStateName;
  connectionState: 'connected' | 'disconnected' | 'notResponding';
  /** The host key cache: keyName() of every key the host holds. */
  cache: Set<string>;
  /** VM ids registered on this host. */
  vms: Set<string>;
  /** configManager.cryptoManager value, e.g. CryptoManagerHost-host-12. */
  cryptoManagerId: string;
  hostKey?: KeyRef;
  bootTime: number;
}

export type DiskBackingType = 'VirtualDiskFlatVer2BackingInfo' | 'VirtualDiskSeSparseBackingInfo' | 'VirtualDiskSparseVer2BackingInfo';

export interface SimDiskLink {
  fileName: string;
  keyId?: KeyRef;
}

export interface SimDisk {
  key: number;
  label: string;
  controllerKey: number;
  unitNumber: number;
  fileName: string;
  backingType: DiskBackingType;
  keyId?: KeyRef;
  /** backing.parent chain, nearest first. */
  parents: SimDiskLink[];
  capacityKB: number;
  uuid: string;
}

export type ControllerType =
  | 'ParaVirtualSCSIController'
  | 'VirtualLsiLogicController'
  | 'VirtualAHCIController'
  | 'VirtualNVMEController'
  | 'VirtualIDEController';

export interface SimController {
  key: number;
  type: ControllerType;
  busNumber: number;
}

export type BootEntry = { kind: 'disk'; deviceKey: number } | { kind: 'cdrom' } | { kind: 'ethernet'; deviceKey: number };

export interface SimAlarmState {
  key: string;
  alarmId: string;
  overallStatus: 'red' | 'yellow' | 'green' | 'gray';
  time: number;
  acknowledged: boolean;
  acknowledgedByUser?: string;
  acknowledgedTime?: number;
  eventKey?: number;
}

export interface SimVm {
  id: string;
  name: string;
  folderId: string;
  hostId: string;
  datastoreId: string;
  powerState: 'poweredOn' | 'poweredOff' | 'suspended';
  homeKey?: KeyRef;
  controllers: SimController[];
  disks: SimDisk[];
  /** A VirtualVmxnet3 NIC device key, for bootOrder ethernet entries. */
  nicKey: number;
  bootOrder: BootEntry[];
  firmware: 'bios' | 'efi';
  extraConfig: Record<string, string>;
  vmPathName: string;
  uuid: string;
  alarms: SimAlarmState[];
  /** Bumped on every config change (config.changeVersion). */
  changeVersion: number;
  /** A connection state forced by the scenario (e.g. an inaccessible VM that is not encrypted); locks still show invalid. */
  connectionOverride?: 'invalid' | 'inaccessible' | 'orphaned' | 'disconnected';
  /** Lock state last seen by World.refresh, to emit lock/unlock events once. */
  lastLocked: boolean;
}

export interface SimFolder {
  id: string;
  name: string;
  parentId: string | undefined;
  childType: string[];
  children: string[];
}

export interface SimDatastore {
  id: string;
  name: string;
}
