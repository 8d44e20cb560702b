import { describe, expect, it } from 'vitest';
import { vmCondition } from '../../src/poller/vm-condition.ts';
import { VmCache, toAlarmStates } from '../../src/poller/vm-cache.ts';
import { classifyEvent, WATCHED_EVENT_TYPE_IDS } from '../../src/poller/event-hints.ts';
import { pickLockedAlarms } from '../../src/poller/locked-alarms.ts';
import type { AlarmState, VimEvent, VmStateSummary } from '../../src/vsphere/types.ts';
import { EncryptionKeyRequired } from '../../src/vsphere/faults.ts';

const vmRef = (id: string) => ({ type: 'VirtualMachine', value: id });
const alarmRef = { type: 'Alarm', value: 'alarm-9' };
const LOCKED = new Set(['alarm-9']);

function vm(over: Partial<VmStateSummary> = {}): VmStateSummary {
  return { moref: vmRef('vm-1'), name: 'db-1', powerState: 'poweredOff', connectionState: 'connected', cryptoState: 'unlocked', triggeredAlarmState: [], ...over };
}

function alarmState(over: Partial<AlarmState> = {}): AlarmState {
  return { key: 'alarm-9.vm-1', entity: vmRef('vm-1'), alarm: alarmRef, overallStatus: 'red', time: new Date('2026-01-01T00:00:00Z'), acknowledged: false, ...over };
}

function event(over: Partial<VimEvent>): VimEvent {
  return { type: 'EventEx', key: 1, chainId: 1, createdTime: new Date('2026-01-01T00:00:00Z'), raw: {}, ...over };
}

describe('vmCondition', () => {
  it('says locked when runtime.cryptoState is locked', () => {
    expect(vmCondition(vm({ cryptoState: 'locked', connectionState: 'invalid' }), LOCKED)?.kind).toBe('cryptoState');
  });

  it('uses the 6.5 rule (keyId + connectionState invalid) only when cryptoState is absent', () => {
    const key = { keyId: 'k1', providerId: { id: 'kms' } };
    expect(vmCondition(vm({ cryptoState: undefined, connectionState: 'invalid', keyId: key }), LOCKED)?.kind).toBe('connectionState');
    expect(vmCondition(vm({ cryptoState: undefined, connectionState: 'invalid' }), LOCKED)).toBeUndefined();
    expect(vmCondition(vm({ cryptoState: 'unlocked', connectionState: 'invalid', keyId: key }), LOCKED)).toBeUndefined();
  });

  it('reports a firing, unacknowledged locked-VM alarm on an unlocked VM, with the alarm time', () => {
    const c = vmCondition(vm({ triggeredAlarmState: [alarmState()] }), LOCKED);
    expect(c?.kind).toBe('alarm');
    expect(c?.since?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('ignores acknowledged, green or other alarms', () => {
    expect(vmCondition(vm({ triggeredAlarmState: [alarmState({ acknowledged: true })] }), LOCKED)).toBeUndefined();
    expect(vmCondition(vm({ triggeredAlarmState: [alarmState({ overallStatus: 'green' })] }), LOCKED)).toBeUndefined();
    expect(vmCondition(vm({ triggeredAlarmState: [alarmState({ alarm: { type: 'Alarm', value: 'alarm-1' } })] }), LOCKED)).toBeUndefined();
  });

  it('says nothing for a healthy VM', () => {
    expect(vmCondition(vm(), LOCKED)).toBeUndefined();
  });
});

describe('VmCache', () => {
  it('builds a VM from an enter update and follows modify/leave', () => {
    const cache = new VmCache();
    const r1 = cache.apply({
      kind: 'enter',
      obj: vmRef('vm-1'),
      changeSet: [
        { name: 'name', op: 'assign', val: 'db-1' },
        { name: 'runtime.cryptoState', op: 'assign', val: 'unlocked' },
        { name: 'config.keyId', op: 'assign', val: { keyId: 'k1', providerId: { id: 'kms' } } },
        { name: 'triggeredAlarmState', op: 'assign', val: [] },
      ],
      missingSet: [],
    });
    expect(r1.before).toBeUndefined();
    expect(r1.after).toMatchObject({ name: 'db-1', cryptoState: 'unlocked', keyId: { keyId: 'k1', providerId: { id: 'kms' } } });
    const r2 = cache.apply({ kind: 'modify', obj: vmRef('vm-1'), changeSet: [{ name: 'runtime.cryptoState', op: 'assign', val: 'locked' }], missingSet: [] });
    expect(r2.before?.cryptoState).toBe('unlocked');
    expect(r2.after?.cryptoState).toBe('locked');
    expect(r2.after?.name).toBe('db-1');
    const r3 = cache.apply({ kind: 'leave', obj: vmRef('vm-1'), changeSet: [], missingSet: [] });
    expect(r3.after).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('treats remove / unset as absent (a 6.5 VM has no cryptoState)', () => {
    const cache = new VmCache();
    cache.replaceAll([vm({ cryptoState: 'locked' })]);
    const r = cache.apply({ kind: 'modify', obj: vmRef('vm-1'), changeSet: [{ name: 'runtime.cryptoState', op: 'remove' }], missingSet: [] });
    expect(r.after?.cryptoState).toBeUndefined();
  });

  it('reports values it cannot read instead of throwing', () => {
    const cache = new VmCache();
    const r = cache.apply({
      kind: 'enter',
      obj: vmRef('vm-2'),
      changeSet: [
        { name: 'config.keyId', op: 'assign', val: 42 },
        { name: 'runtime.cryptoState', op: 'assign', val: { weird: true } },
        { name: 'summary.overallStatus', op: 'assign', val: 'red' },
        { name: 'triggeredAlarmState', op: 'assign', val: ['nonsense'] },
      ],
      missingSet: [],
    });
    expect(r.unreadable.sort()).toEqual(['config.keyId', 'runtime.cryptoState', 'summary.overallStatus', 'triggeredAlarmState']);
    expect(r.after?.keyId).toBeUndefined();
  });

  it('reads AlarmState arrays in their wrapped and single forms', () => {
    const raw = { key: 'a.vm-1', entity: vmRef('vm-1'), alarm: alarmRef, overallStatus: 'red', time: '2026-01-01T00:00:00Z', acknowledged: 'true' };
    expect(toAlarmStates({ AlarmState: [raw] })?.[0]?.acknowledged).toBe(true);
    expect(toAlarmStates(raw)?.[0]?.time.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(toAlarmStates({})).toEqual([]);
    expect(toAlarmStates([{ alarm: 'x' }])).toBeUndefined();
  });
});

describe('classifyEvent', () => {
  it('asks the collector for every crypto lock id (vCenter\'s spelling kept), unlock, alarm status and power-on failure', () => {
    expect(WATCHED_EVENT_TYPE_IDS).toContain('com.vmware.vc.vm.Crypto.VMLocked.TAKMSClusterUnavaliable');
    expect(WATCHED_EVENT_TYPE_IDS).toContain('com.vmware.vc.vm.Crypto.VMUnlocked');
    expect(WATCHED_EVENT_TYPE_IDS).toContain('AlarmStatusChangedEvent');
    expect(WATCHED_EVENT_TYPE_IDS).toContain('VmFailedToPowerOnEvent');
  });

  it('reads a VMLocked EventEx as a lock hint on its VM', () => {
    const h = classifyEvent(event({ eventTypeId: 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS', vm: { vm: vmRef('vm-7'), name: 'web' } }), LOCKED);
    expect(h).toMatchObject({ kind: 'lock', vm: vmRef('vm-7'), vmName: 'web', detail: 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS' });
  });

  it('finds the VM of an EventEx that names it only by objectId', () => {
    const h = classifyEvent(event({ eventTypeId: 'com.vmware.vc.vm.Crypto.VMLocked.KMSClusterError', objectId: 'vm-8', objectType: 'VirtualMachine', raw: { objectName: 'app' } }), LOCKED);
    expect(h).toMatchObject({ kind: 'lock', vm: vmRef('vm-8'), vmName: 'app' });
  });

  it('reads the locked-VM alarm going red as a firing alarm hint, and other alarms as ignored', () => {
    const base = { type: 'AlarmStatusChangedEvent', entity: { entity: vmRef('vm-3'), name: 'x' }, from: 'green', to: 'red' };
    expect(classifyEvent(event({ ...base, alarm: { alarm: alarmRef, name: 'Encrypted VM locked' } }), LOCKED)).toMatchObject({ kind: 'alarm', firing: true, vm: vmRef('vm-3') });
    expect(classifyEvent(event({ ...base, to: 'green', alarm: { alarm: alarmRef, name: 'Encrypted VM locked' } }), LOCKED)).toMatchObject({ kind: 'alarm', firing: false });
    expect(classifyEvent(event({ ...base, alarm: { alarm: { type: 'Alarm', value: 'alarm-1' }, name: 'CPU' } }), LOCKED).kind).toBe('ignored');
  });

  it('reads a typed VmFailedToPowerOnEvent whose reason carries msg.disk.encrypted', () => {
    const h = classifyEvent(
      event({ type: 'VmFailedToPowerOnEvent', vm: { vm: vmRef('vm-5'), name: 'd' }, raw: { reason: { fault: { faultMessage: [{ key: 'msg.disk.encrypted' }] } } } }),
      LOCKED,
    );
    expect(h).toMatchObject({ kind: 'powerOnFailure', keyMissing: true, vm: vmRef('vm-5') });
  });

  it('reads a typed fault object (EncryptionKeyRequired) in the reason', () => {
    const fault = new EncryptionKeyRequired('EncryptionKeyRequired', 'key required', { requiredKey: [{ keyId: 'k' }] });
    const h = classifyEvent(event({ type: 'VmFailedToPowerOnEvent', vm: { vm: vmRef('vm-5'), name: 'd' }, raw: { reason: { fault } } }), LOCKED);
    expect(h).toMatchObject({ kind: 'powerOnFailure', keyMissing: true });
  });

  it('reads the EventEx form of a power-on failure, and a reason about something else as keyMissing=false', () => {
    const h = classifyEvent(event({ eventTypeId: 'vim.event.VmFailedToPowerOnEvent', vm: { vm: vmRef('vm-6'), name: 'e' }, fullFormattedMessage: 'not enough memory' }), LOCKED);
    expect(h).toMatchObject({ kind: 'powerOnFailure', keyMissing: false });
  });

  it('never throws on an unknown type or an event without a VM', () => {
    expect(classifyEvent(event({ type: 'SomethingNewEvent', raw: { weird: [1, 2] } }), LOCKED).kind).toBe('ignored');
    expect(classifyEvent(event({ eventTypeId: 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost' }), LOCKED).kind).toBe('ignored');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(classifyEvent(event({ type: 'VmFailedToPowerOnEvent', vm: { vm: vmRef('vm-1'), name: 'a' }, raw: { reason: cyclic } }), LOCKED).kind).toBe('powerOnFailure');
  });
});

describe('pickLockedAlarms', () => {
  const alarms = [
    { moref: { type: 'Alarm', value: 'alarm-1' }, name: 'Host CPU', eventTypeIds: [], enabled: true },
    { moref: { type: 'Alarm', value: 'alarm-9' }, name: 'Encrypted VM locked', eventTypeIds: ['com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost'], enabled: true },
    { moref: { type: 'Alarm', value: 'alarm-12' }, name: 'Our own lock alarm', eventTypeIds: ['vmlock.custom'], enabled: true },
  ];

  it('finds the alarm by its VMLocked event expression when no name is configured', () => {
    expect(pickLockedAlarms(alarms).map((a) => a.value)).toEqual(['alarm-9']);
  });

  it('uses the configured name instead when set', () => {
    expect(pickLockedAlarms(alarms, 'Our own lock alarm').map((a) => a.value)).toEqual(['alarm-12']);
    expect(pickLockedAlarms(alarms, 'missing')).toEqual([]);
  });
});

describe('VmCache and a reconciliation read', () => {
  it('keeps what the watch saw after the read started, and takes the read for everything else', async () => {
    const cache = new VmCache();
    cache.replaceAll([vm({ moref: vmRef('vm-1') }), vm({ moref: vmRef('vm-2'), name: 'old' })]);
    const readStartedAt = Date.now() - 1;
    cache.apply({ kind: 'modify', obj: vmRef('vm-1'), changeSet: [{ name: 'runtime.cryptoState', op: 'assign', val: 'locked' }], missingSet: [] });
    // The read began before the lock and still says unlocked for vm-1.
    cache.replaceAll([vm({ moref: vmRef('vm-1') }), vm({ moref: vmRef('vm-2'), name: 'new' }), vm({ moref: vmRef('vm-3') })], readStartedAt);
    expect(cache.get('vm-1')?.cryptoState).toBe('locked');
    expect(cache.get('vm-2')?.name).toBe('new');
    expect(cache.size).toBe(3);
    // A VM that left after the read started does not come back from the older read.
    const t = Date.now() - 1;
    cache.apply({ kind: 'leave', obj: vmRef('vm-3'), changeSet: [], missingSet: [] });
    cache.replaceAll([vm({ moref: vmRef('vm-1') }), vm({ moref: vmRef('vm-2') }), vm({ moref: vmRef('vm-3') })], t);
    expect(cache.get('vm-3')).toBeUndefined();
    // A later read (after the watch change) wins.
    cache.replaceAll([vm({ moref: vmRef('vm-1') })], Date.now() + 1);
    expect(cache.get('vm-1')?.cryptoState).toBe('unlocked');
    expect(cache.size).toBe(1);
  });
});
