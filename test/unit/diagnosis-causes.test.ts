import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/diagnosis/diagnose.ts';
import type { VmFacts } from '../../src/diagnosis/facts.ts';
import { DATA, HOME, PROVIDER, SAFE_HOST, disk, facts, snapshot, status } from './diagnosis-fixtures.ts';

const unlockedVm = { cryptoState: 'unlocked', connectionState: 'connected' } as const;
const homeOnly = { disks: [disk(2000, 0)] };
const noBootOrder = { bootOrder: [], firmware: 'efi', disks: [disk(2000, 0), disk(2001, 1, DATA, { controller: { kind: 'sata', busNumber: 0 } })] };

/** Each row: the facts changed from a healthy locked VM, and the exact cause codes expected (order-free). */
const cases: { name: string; f: Partial<VmFacts>; want: string[] }[] = [
  { name: 'VM gone', f: { snapshot: null }, want: ['vm-gone'] },
  { name: 'VM not encrypted', f: { snapshot: snapshot({ keyId: undefined, disks: [disk(2000, 0, null)] }) }, want: ['not-encrypted'] },
  { name: 'keys available, VM locked: keys missing on host', f: {}, want: ['keys-missing-on-host'] },
  { name: 'pre-6.7: no cryptoState, connection invalid = locked', f: { snapshot: snapshot({ cryptoState: undefined }) }, want: ['keys-missing-on-host'] },
  { name: 'pre-6.7: no cryptoState, connected = stale', f: { snapshot: snapshot({ cryptoState: undefined, connectionState: 'connected' }) }, want: ['stale-alarm'] },
  { name: 'VM unlocked, keys fine: stale alarm', f: { snapshot: snapshot(unlockedVm) }, want: ['stale-alarm'] },
  { name: 'power-on failure with keys fine: disk keys missing on host', f: { snapshot: snapshot(unlockedVm), signalKind: 'powerOnFailure' }, want: ['keys-missing-on-host'] },
  { name: 'KMS unreachable by key reason', f: { keyStatuses: [status(HOME, false, 'KeyStateClusterUnreachable'), status(DATA, false, 'KeyStateClusterUnreachable')] }, want: ['kms-unreachable'] },
  { name: 'KMS cluster invalid', f: { keyStatuses: [status(HOME, false, 'KeyStateClusterInvalid'), status(DATA, true)] }, want: ['kms-unreachable'] },
  { name: 'KMS inactive and key unavailable without reason', f: { kmsActive: { [PROVIDER]: false }, keyStatuses: [status(HOME, false), status(DATA, true)] }, want: ['kms-unreachable'] },
  { name: 'KMS inactive but keys cached: unlock', f: { kmsActive: { [PROVIDER]: false } }, want: ['keys-missing-on-host'] },
  { name: 'home key missing in KMS', f: { keyStatuses: [status(HOME, false, 'KeyStateMissingInKMS'), status(DATA, true)] }, want: ['home-key-missing-in-kms'] },
  { name: 'home key inactive', f: { keyStatuses: [status(HOME, false, 'KeyStateNotActiveOrEnabled'), status(DATA, true)] }, want: ['home-key-inactive'] },
  { name: 'non-boot disk key missing on a locked VM: unlock then detach', f: { keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] }, want: ['keys-missing-on-host', 'nonboot-disk-key-missing'] },
  { name: 'non-boot disk key missing on an unlocked VM', f: { snapshot: snapshot(unlockedVm), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] }, want: ['nonboot-disk-key-missing'] },
  { name: 'non-boot disk key inactive counts as gone', f: { snapshot: snapshot(unlockedVm), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateNotActiveOrEnabled')] }, want: ['nonboot-disk-key-missing'] },
  {
    name: 'boot disk key missing',
    f: { snapshot: snapshot({ ...unlockedVm, disks: [disk(2000, 0, DATA), disk(2001, 1, HOME)] }), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] },
    want: ['boot-disk-key-missing'],
  },
  {
    name: 'parent-chain key missing marks the disk',
    f: { snapshot: snapshot({ ...unlockedVm, disks: [disk(2000, 0), disk(2001, 1, HOME, { parentKeyIds: [DATA] })] }), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] },
    want: ['nonboot-disk-key-missing'],
  },
  { name: 'boot disk unknown with a disk key missing', f: { snapshot: snapshot({ ...unlockedVm, ...noBootOrder }), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] }, want: ['boot-disk-unknown'] },
  { name: 'boot disk unknown does not matter when no disk key is missing', f: { snapshot: snapshot(noBootOrder) }, want: ['keys-missing-on-host'] },
  { name: 'host not crypto-safe', f: { host: { ...SAFE_HOST, cryptoState: 'prepared' } }, want: ['keys-missing-on-host', 'host-not-crypto-safe'] },
  { name: 'host without crypto support', f: { host: { ...SAFE_HOST, cryptoState: undefined } }, want: ['keys-missing-on-host', 'host-not-crypto-safe'] },
  { name: 'host state irrelevant for a stale alarm', f: { snapshot: snapshot(unlockedVm), host: { ...SAFE_HOST, cryptoState: 'incapable' } }, want: ['stale-alarm'] },
  { name: 'missing RegisterVM privilege', f: { canRegisterVm: false }, want: ['keys-missing-on-host', 'missing-privilege'] },
  { name: 'privilege irrelevant for detach only', f: { canRegisterVm: false, snapshot: snapshot(unlockedVm), keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] }, want: ['nonboot-disk-key-missing'] },
  { name: 'unknown key reason is kept', f: { keyStatuses: [status(HOME, false, 'KeyStateQuantumDecohered'), status(DATA, true)] }, want: ['unknown-key-reason:KeyStateQuantumDecohered'] },
  { name: 'missing-in-cache is not guessed at', f: { keyStatuses: [status(HOME, false, 'KeyStateMissingInCache'), status(DATA, true)] }, want: ['unknown-key-reason:KeyStateMissingInCache'] },
  { name: 'no status returned for a key', f: { keyStatuses: [status(HOME, true)] }, want: ['unknown-key-reason:no-status'] },
  {
    name: 'home key gone and boot disk key gone and host unsafe',
    f: { keyStatuses: [status(HOME, false, 'KeyStateMissingInKMS'), status(DATA, false, 'KeyStateMissingInKMS')], snapshot: snapshot({ disks: [disk(2000, 0, DATA), disk(2001, 1)] }), host: { ...SAFE_HOST, cryptoState: 'incapable' } },
    want: ['home-key-missing-in-kms', 'boot-disk-key-missing', 'host-not-crypto-safe'],
  },
  {
    name: 'KMS down and privilege missing',
    f: { keyStatuses: [status(HOME, false, 'KeyStateClusterUnreachable'), status(DATA, false, 'KeyStateClusterUnreachable')], canRegisterVm: false },
    want: ['kms-unreachable', 'missing-privilege'],
  },
  { name: 'home-only VM locked', f: { snapshot: snapshot(homeOnly), keyStatuses: [status(HOME, true)] }, want: ['keys-missing-on-host'] },
  // vCenter before 6.7 U2: no QueryCryptoKeyStatus, so nothing is known per key.
  { name: 'no key status API, VM locked: re-push once', f: { keyStatusUnavailable: true, keyStatuses: [] }, want: ['key-status-unavailable'] },
  { name: 'no key status API, power-on failure: re-push once, never a disk detached', f: { keyStatusUnavailable: true, keyStatuses: [], snapshot: snapshot(unlockedVm), signalKind: 'powerOnFailure' }, want: ['key-status-unavailable'] },
  { name: 'no key status API, VM fine: stale alarm', f: { keyStatusUnavailable: true, keyStatuses: [], snapshot: snapshot(unlockedVm) }, want: ['stale-alarm'] },
  { name: 'no key status API, host not crypto-safe still escalates', f: { keyStatusUnavailable: true, keyStatuses: [], host: { ...SAFE_HOST, cryptoState: 'prepared' } }, want: ['key-status-unavailable', 'host-not-crypto-safe'] },
  {
    name: 'key status matched by keyId when vCenter adds the provider',
    f: { snapshot: snapshot({ disks: [disk(2000, 0, { keyId: 'k-home' })], keyId: { keyId: 'k-home' } }), keyStatuses: [status(HOME, false, 'KeyStateMissingInKMS')] },
    want: ['home-key-missing-in-kms'],
  },
];

describe('diagnose: causes', () => {
  it.each(cases)('$name', ({ f, want }) => {
    const d = diagnose(facts(f));
    expect(d.causes.map((c) => c.code).sort()).toEqual([...want].sort());
    for (const c of d.causes) expect(c.message.length).toBeGreaterThan(10);
  });

  it('names the missing privilege and folder', () => {
    const c = diagnose(facts({ canRegisterVm: false })).causes.find((x) => x.code === 'missing-privilege');
    expect(c).toMatchObject({ privilege: 'Cryptographer.RegisterVM', entity: 'group-v3' });
  });

  it('records the detached disk file and key for a non-boot disk', () => {
    const d = diagnose(facts({ keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] }));
    expect(d.causes.find((c) => c.code === 'nonboot-disk-key-missing')).toMatchObject({ deviceKey: 2001, fileName: '[ds1] vm-1/vm-1_1.vmdk', keyId: 'k-data', provider: PROVIDER });
  });
});

describe('diagnose: advisories (never blocking)', () => {
  it('flags differential keys', () => {
    const d = diagnose(facts());
    expect(d.advisories.map((a) => a.code)).toContain('differential-keys');
    expect(d.causes.map((c) => c.code)).toEqual(['keys-missing-on-host']);
  });
  it('flags vSAN datastores when their type is known', () => {
    const d = diagnose(facts({ datastoreTypes: { 'ds-1': 'vsan' } }));
    expect(d.advisories.map((a) => a.code)).toContain('vsan-datastore');
  });
  it('flags vSAN by the default vSAN datastore name when types are unknown', () => {
    const d = diagnose(facts({ snapshot: snapshot({ vmPathName: '[vsanDatastore] vm-1/vm-1.vmx' }) }));
    expect(d.advisories.find((a) => a.code === 'vsan-datastore')?.message).toContain('vsanDatastore');
    expect(diagnose(facts()).advisories.map((a) => a.code)).not.toContain('vsan-datastore');
  });
  it('flags keys no VM uses', () => {
    const orphan = { ...status({ keyId: 'k-old', providerId: { id: PROVIDER } }, true), encryptedVMs: [] };
    const d = diagnose(facts({ keyStatuses: [status(HOME, true), status(DATA, true), orphan] }));
    expect(d.advisories.find((a) => a.code === 'unused-key')?.message).toContain('k-old');
  });
  it('has no differential-keys advisory when all disks use the home key', () => {
    const d = diagnose(facts({ snapshot: snapshot(homeOnly), keyStatuses: [status(HOME, true)] }));
    expect(d.advisories).toEqual([]);
  });
});
