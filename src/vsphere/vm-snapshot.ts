import { arr, cryptoKeyId, isObj, moref, morefs, num, str, type Decoded, type DecodedObject } from './decode.ts';
import { alarmStates } from './normalize.ts';
import type { BootOrderEntry, CryptoKeyId, DiskControllerKind, HostCryptoInfo, MoRef, VirtualDiskInfo, VmCryptoSnapshot, VmStateSummary } from './types.ts';

/** The properties listVmStates reads for every VM (small: safe for 10k VMs). */
export const VM_STATE_PATHS = ['name', 'runtime.powerState', 'runtime.connectionState', 'runtime.cryptoState', 'config.keyId', 'triggeredAlarmState'] as const;

/**
 * The properties one crypto snapshot needs. config.extraConfig is read whole
 * because keyed paths (config.extraConfig["bios.bootOrder"]) are not accepted
 * everywhere; snapshots are read only for the VMs being diagnosed.
 */
export const VM_SNAPSHOT_PATHS = [
  ...VM_STATE_PATHS,
  'parent',
  'runtime.host',
  'datastore',
  'config.files.vmPathName',
  'config.firmware',
  'config.hardware.device',
  'config.bootOptions',
  'config.extraConfig',
] as const;

export const HOST_CRYPTO_PATHS = ['name', 'runtime.cryptoState', 'runtime.connectionState', 'configManager.cryptoManager'] as const;

/** extraConfig keys diagnosis reads (legacy boot order overrides). */
const EXTRA_CONFIG_KEYS = new Set(['bios.bootOrder', 'bios.hddOrder']);

type Props = ReadonlyMap<string, Decoded>;

export function vmStateSummary(ref: MoRef, props: Props): VmStateSummary {
  const out: VmStateSummary = {
    moref: ref,
    name: str(props.get('name')) ?? '',
    triggeredAlarmState: alarmStates(props.get('triggeredAlarmState')),
  };
  const power = str(props.get('runtime.powerState'));
  if (power !== undefined) out.powerState = power;
  const conn = str(props.get('runtime.connectionState'));
  if (conn !== undefined) out.connectionState = conn;
  const crypto = str(props.get('runtime.cryptoState'));
  if (crypto !== undefined) out.cryptoState = crypto;
  const keyId = cryptoKeyId(props.get('config.keyId'));
  if (keyId) out.keyId = keyId;
  return out;
}

function controllerKind(type: string): DiskControllerKind {
  if (/NVME/i.test(type)) return 'nvme';
  if (/AHCI|SATA/i.test(type)) return 'sata';
  if (/IDE/i.test(type)) return 'ide';
  if (/SCSI|LsiLogic|BusLogic/i.test(type)) return 'scsi';
  return 'other';
}

/** keyId of each backing.parent, nearest first. Parents are often untyped; the chain is bounded against cycles. */
function parentKeyIds(backing: DecodedObject): CryptoKeyId[] {
  const out: CryptoKeyId[] = [];
  let cur = backing.parent;
  for (let depth = 0; isObj(cur) && depth < 256; depth++) {
    const k = cryptoKeyId(cur.keyId);
    if (k) out.push(k);
    cur = cur.parent;
  }
  return out;
}

export function virtualDisks(devices: Decoded): VirtualDiskInfo[] {
  const list = arr(devices).filter(isObj);
  const byKey = new Map<number, DecodedObject>();
  for (const d of list) {
    const k = num(d.key);
    if (k !== undefined) byKey.set(k, d);
  }
  const disks: VirtualDiskInfo[] = [];
  for (const d of list) {
    if (d._type !== 'VirtualDisk') continue;
    const backing = isObj(d.backing) ? d.backing : {};
    const controllerKey = num(d.controllerKey) ?? -1;
    const ctl = byKey.get(controllerKey);
    const disk: VirtualDiskInfo = {
      key: num(d.key) ?? -1,
      label: str(isObj(d.deviceInfo) ? d.deviceInfo.label : undefined) ?? '',
      controllerKey,
      controller: ctl ? { kind: controllerKind(ctl._type ?? ''), busNumber: num(ctl.busNumber) ?? 0 } : undefined,
      fileName: str(backing.fileName) ?? '',
      backingType: backing._type ?? 'unknown',
      parentKeyIds: parentKeyIds(backing),
    };
    const unit = num(d.unitNumber);
    if (unit !== undefined) disk.unitNumber = unit;
    const keyId = cryptoKeyId(backing.keyId);
    if (keyId) disk.keyId = keyId;
    const capacity = num(d.capacityInKB);
    if (capacity !== undefined) disk.capacityInKB = capacity;
    const ds = moref(backing.datastore);
    if (ds) disk.datastore = ds;
    disks.push(disk);
  }
  return disks;
}

const BOOT_KINDS: Record<string, 'disk' | 'ethernet' | 'cdrom' | 'floppy'> = {
  VirtualMachineBootOptionsBootableDiskDevice: 'disk',
  VirtualMachineBootOptionsBootableEthernetDevice: 'ethernet',
  VirtualMachineBootOptionsBootableCdromDevice: 'cdrom',
  VirtualMachineBootOptionsBootableFloppyDevice: 'floppy',
};

export function bootOrder(bootOptions: Decoded): BootOrderEntry[] {
  if (!isObj(bootOptions)) return [];
  return arr(bootOptions.bootOrder).map((e): BootOrderEntry => {
    const type = isObj(e) ? e._type ?? 'unknown' : 'unknown';
    const kind = BOOT_KINDS[type];
    const deviceKey = isObj(e) ? num(e.deviceKey) : undefined;
    if ((kind === 'disk' || kind === 'ethernet') && deviceKey !== undefined) return { kind, deviceKey };
    if (kind === 'cdrom' || kind === 'floppy') return { kind };
    return { kind: 'unknown', type };
  });
}

function selectedExtraConfig(v: Decoded): Record<string, string> {
  const out: Record<string, string> = {};
  for (const opt of arr(v)) {
    if (!isObj(opt)) continue;
    const key = str(opt.key);
    const value = str(opt.value);
    if (key !== undefined && value !== undefined && EXTRA_CONFIG_KEYS.has(key)) out[key] = value;
  }
  return out;
}

export function vmCryptoSnapshot(ref: MoRef, props: Props): VmCryptoSnapshot {
  const snap: VmCryptoSnapshot = {
    ...vmStateSummary(ref, props),
    disks: virtualDisks(props.get('config.hardware.device')),
    bootOrder: bootOrder(props.get('config.bootOptions')),
    extraConfig: selectedExtraConfig(props.get('config.extraConfig')),
    datastores: morefs(props.get('datastore')),
  };
  const host = moref(props.get('runtime.host'));
  if (host) snap.host = host;
  const parent = moref(props.get('parent'));
  if (parent) snap.parent = parent;
  const path = str(props.get('config.files.vmPathName'));
  if (path !== undefined) snap.vmPathName = path;
  const firmware = str(props.get('config.firmware'));
  if (firmware !== undefined) snap.firmware = firmware;
  return snap;
}

export function hostCryptoInfo(ref: MoRef, props: Props): HostCryptoInfo {
  const out: HostCryptoInfo = { moref: ref, name: str(props.get('name')) ?? '' };
  const crypto = str(props.get('runtime.cryptoState'));
  if (crypto !== undefined) out.cryptoState = crypto;
  const conn = str(props.get('runtime.connectionState'));
  if (conn !== undefined) out.connectionState = conn;
  const cm = moref(props.get('configManager.cryptoManager'));
  if (cm) out.cryptoManager = cm;
  return out;
}
