import type { CryptoKeyId, CryptoKeyStatus, HostCryptoInfo, VirtualDiskInfo, VmCryptoSnapshot } from '../../src/vsphere/types.ts';
import { CheckKey } from '../../src/vsphere/types.ts';
import type { VmFacts } from '../../src/diagnosis/facts.ts';

/** Builders for diagnosis/plan unit tests: one healthy encrypted VM, changed per case. */
export const PROVIDER = 'kms-1';
export const HOME: CryptoKeyId = { keyId: 'k-home', providerId: { id: PROVIDER } };
export const DATA: CryptoKeyId = { keyId: 'k-data', providerId: { id: PROVIDER } };

/** keyId null: an unencrypted disk. */
export function disk(key: number, unit: number, keyId: CryptoKeyId | null = HOME, extra: Partial<VirtualDiskInfo> = {}): VirtualDiskInfo {
  return {
    key,
    label: `Hard disk ${key - 1999}`,
    controllerKey: 1000,
    controller: { kind: 'scsi', busNumber: 0 },
    unitNumber: unit,
    fileName: `[ds1] vm-1/vm-1_${unit}.vmdk`,
    backingType: 'VirtualDiskFlatVer2BackingInfo',
    keyId: keyId ?? undefined,
    parentKeyIds: [],
    ...extra,
  };
}

export function snapshot(patch: Partial<VmCryptoSnapshot> = {}): VmCryptoSnapshot {
  return {
    moref: { type: 'VirtualMachine', value: 'vm-1' },
    name: 'app-1',
    powerState: 'poweredOff',
    connectionState: 'invalid',
    cryptoState: 'locked',
    keyId: HOME,
    triggeredAlarmState: [
      { key: 'alarm-9.vm-1', entity: { type: 'VirtualMachine', value: 'vm-1' }, alarm: { type: 'Alarm', value: 'alarm-9' }, overallStatus: 'red', time: new Date(0), acknowledged: false },
    ],
    host: { type: 'HostSystem', value: 'host-1' },
    parent: { type: 'Folder', value: 'group-v3' },
    vmPathName: '[ds1] vm-1/vm-1.vmx',
    disks: [disk(2000, 0), disk(2001, 1, DATA)],
    bootOrder: [{ kind: 'disk', deviceKey: 2000 }],
    firmware: 'efi',
    extraConfig: {},
    datastores: [{ type: 'Datastore', value: 'ds-1' }],
    ...patch,
  };
}

export function status(key: CryptoKeyId, available: boolean, reason?: string): CryptoKeyStatus {
  const s: CryptoKeyStatus = { keyId: key, keyAvailable: available, encryptedVMs: [{ type: 'VirtualMachine', value: 'vm-1' }], affectedHosts: [], referencedByTags: [] };
  if (reason) s.reason = reason;
  return s;
}

export const SAFE_HOST: HostCryptoInfo = { moref: { type: 'HostSystem', value: 'host-1' }, name: 'esx-1', cryptoState: 'safe', connectionState: 'connected' };

export function facts(patch: Partial<VmFacts> = {}): VmFacts {
  return {
    vcenter: 'sim',
    vm: { type: 'VirtualMachine', value: 'vm-1' },
    gatheredAt: '2026-01-01T00:00:00.000Z',
    snapshot: snapshot(),
    keyStatuses: [status(HOME, true), status(DATA, true)],
    keyStatusBits: CheckKey.available | CheckKey.usedByVms,
    kmsActive: { [PROVIDER]: true },
    host: SAFE_HOST,
    canRegisterVm: true,
    events: [],
    ...patch,
  };
}
