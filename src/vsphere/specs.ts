import type { CryptoKeyId, EventFilter, KmipClusterInfo, MoRef } from './types.ts';

/**
 * Request argument builders in the shape the soap package serialises. Keys are
 * written in vim25 schema order: soap follows the declared type, but inside an
 * element typed by xsi:type (selectSet, device, backing) it follows key order.
 * Unset fields are left out (never null, which soap would send as xsi:nil).
 */
export interface SoapMoRef {
  attributes: { type: string };
  $value: string;
}

export function mo(ref: MoRef): SoapMoRef {
  return { attributes: { type: ref.type }, $value: ref.value };
}

export function xsiType(type: string): { 'xsi:type': string } {
  return { 'xsi:type': type };
}

export interface PropertySpecArg {
  type: string;
  all: boolean;
  pathSet: string[];
}

export function propertySpec(type: string, paths: readonly string[]): PropertySpecArg {
  return { type, all: false, pathSet: [...paths] };
}

/** ObjectSpec of a ContainerView traversing its `view` to every object in it. */
export function containerViewObjectSpec(view: MoRef): Record<string, unknown> {
  return {
    obj: mo(view),
    skip: true,
    selectSet: [{ attributes: xsiType('TraversalSpec'), name: 'traverseView', type: 'ContainerView', path: 'view', skip: false }],
  };
}

/** ObjectSpec of the TaskManager traversing recentTask (one filter serves every task wait). */
export function recentTaskObjectSpec(taskManager: MoRef): Record<string, unknown> {
  return {
    obj: mo(taskManager),
    skip: true,
    selectSet: [{ attributes: xsiType('TraversalSpec'), name: 'traverseRecentTask', type: 'TaskManager', path: 'recentTask', skip: false }],
  };
}

export function filterSpec(propSet: PropertySpecArg[], objectSet: Record<string, unknown>[], reportMissing?: boolean): Record<string, unknown> {
  const spec: Record<string, unknown> = { propSet, objectSet };
  if (reportMissing !== undefined) spec.reportMissingObjectsInResults = reportMissing;
  return spec;
}

export function cryptoKeyIdArg(k: CryptoKeyId): Record<string, unknown> {
  return k.providerId ? { keyId: k.keyId, providerId: { id: k.providerId.id } } : { keyId: k.keyId };
}

export function kmipClusterArg(c: KmipClusterInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    clusterId: { id: c.clusterId.id },
    servers: c.servers.map((s) => ({ name: s.name, address: s.address, port: s.port })),
    useAsDefault: c.useAsDefault,
  };
  if (c.managementType) out.managementType = c.managementType;
  return out;
}

export function eventFilterArg(f: EventFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.entity) out.entity = { entity: mo(f.entity.entity), recursion: f.entity.recursion };
  if (f.beginTime) out.time = { beginTime: f.beginTime.toISOString() };
  if (f.eventTypeId?.length) out.eventTypeId = [...f.eventTypeId];
  if (f.maxCount !== undefined) out.maxCount = f.maxCount;
  return out;
}

/** The VirtualDisk removed by detachDisk: no fileOperation, so the .vmdk stays on the datastore. */
export interface DiskToRemove {
  key: number;
  controllerKey?: number;
  unitNumber?: number;
  capacityInKB?: number;
  fileName?: string;
  datastore?: MoRef;
  backingType?: string;
  diskMode?: string;
  thinProvisioned?: boolean;
  /** Read-only on vCenter; sent back as read so the device matches what the VM has. */
  keyId?: CryptoKeyId;
}

export function removeDiskSpec(disk: DiskToRemove): Record<string, unknown> {
  const device: Record<string, unknown> = { attributes: xsiType('VirtualDisk'), key: disk.key };
  if (disk.fileName !== undefined) {
    const backing: Record<string, unknown> = { attributes: xsiType(disk.backingType ?? 'VirtualDiskFlatVer2BackingInfo'), fileName: disk.fileName };
    if (disk.datastore) backing.datastore = mo(disk.datastore);
    // VirtualDiskFlatVer2BackingInfo order: fileName, datastore, diskMode, ..., thinProvisioned, ..., keyId.
    backing.diskMode = disk.diskMode ?? 'persistent';
    if (disk.thinProvisioned !== undefined) backing.thinProvisioned = disk.thinProvisioned;
    if (disk.keyId) backing.keyId = cryptoKeyIdArg(disk.keyId);
    device.backing = backing;
  }
  if (disk.controllerKey !== undefined) device.controllerKey = disk.controllerKey;
  if (disk.unitNumber !== undefined) device.unitNumber = disk.unitNumber;
  device.capacityInKB = disk.capacityInKB ?? 0;
  // operation first, and deliberately no fileOperation: "destroy" would delete the disk file.
  return { deviceChange: [{ operation: 'remove', device }] };
}
