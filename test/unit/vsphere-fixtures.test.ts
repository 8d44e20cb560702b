import { REAL_VCENTER_DIR, VCSIM_DIR } from '../helpers/fixtures.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSoapResponse, returnValue, returnValues } from '../../src/vsphere/response.ts';
import { retrieveResult, updateSet } from '../../src/vsphere/client.ts';
import { alarmStates, cryptoKeyStatus, kmipClusterInfo, serviceContent, taskInfo, userSession, vimEvent } from '../../src/vsphere/normalize.ts';
import { vmCryptoSnapshot, vmStateSummary } from '../../src/vsphere/vm-snapshot.ts';
import { cryptoKeyIds, isObj, morefs } from '../../src/vsphere/decode.ts';
import {
  InvalidLogin,
  ManagedObjectNotFound,
  MethodNotFound,
  NoPermission,
  NotAuthenticated,
  TransportError,
  VimFault,
} from '../../src/vsphere/faults.ts';

const REAL = REAL_VCENTER_DIR;
const VCSIM = VCSIM_DIR;
const real = (prefix: string) => readFileSync(REAL + readdirSync(REAL).find((f) => f.startsWith(prefix))!, 'utf8');
const sim = (prefix: string) => readFileSync(VCSIM + readdirSync(VCSIM).find((f) => f.startsWith(prefix) && f.endsWith('.response.xml'))!, 'utf8');

function faultOf(body: string, status = 500): unknown {
  try {
    parseSoapResponse(body, { status });
  } catch (err) {
    return err;
  }
  throw new Error('expected a fault');
}

describe('real vCenter response bodies', () => {
  it('parses every file without crashing (faults become typed errors)', () => {
    const files = readdirSync(REAL).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThanOrEqual(24);
    for (const f of files) {
      const body = readFileSync(REAL + f, 'utf8');
      try {
        const r = parseSoapResponse(body);
        expect(r.name, f).toMatch(/Response$/);
      } catch (err) {
        expect(err, f).toBeInstanceOf(VimFault);
      }
    }
  });

  it('01/28 RetrieveServiceContent: MoRefs and about, cryptoManager is CryptoManagerKmip', () => {
    const sc = serviceContent(returnValue(parseSoapResponse(real('01-'))));
    expect(sc.rootFolder).toEqual({ type: 'Folder', value: 'group-d1' });
    expect(sc.propertyCollector).toEqual({ type: 'PropertyCollector', value: 'propertyCollector' });
    expect(sc.cryptoManager).toEqual({ type: 'CryptoManagerKmip', value: 'CryptoManager' });
    expect(sc.about.apiVersion).toBe('8.0.2.0');
    expect(sc.about.instanceUuid).toBe('12345678-9abc-4def-8123-456789abcdef');
    const sc9 = serviceContent(returnValue(parseSoapResponse(real('28-'))));
    expect(sc9.about.apiVersion).toBe('9.0.0.0');
    expect(sc9.cryptoManager?.type).toBe('CryptoManagerKmip');
  });

  it('02 Login: UserSession', () => {
    const s = userSession(returnValue(parseSoapResponse(real('02-'))));
    expect(s.key).toBe('5220f274-9ba1-a663-b51f-9b16fca182f1');
    expect(s.userName).toBe('my_user');
    expect(s.loginTime).toEqual(new Date('2023-12-14T06:53:33.763Z'));
  });

  it('03 InvalidLogin fault', () => {
    const err = faultOf(real('03-'));
    expect(err).toBeInstanceOf(InvalidLogin);
    expect((err as VimFault).faultType).toBe('InvalidLogin');
    expect((err as Error).message).toMatch(/incorrect user name or password/);
  });

  it('05 Fetch VM config: xsi:type on returnval, vSAN disk, 74 extraConfig values, newline kept', () => {
    const v = returnValue(parseSoapResponse(real('05-')));
    expect(isObj(v) && v._type).toBe('VirtualMachineConfigInfo');
    const cfg = v as Record<string, unknown>;
    expect((cfg.extraConfig as unknown[]).length).toBe(74);
    const snap = vmCryptoSnapshot({ type: 'VirtualMachine', value: 'vm-19' }, new Map([['config.hardware.device', (cfg.hardware as Record<string, unknown>).device as never]]));
    expect(snap.disks).toHaveLength(1);
    expect(snap.disks[0]!.backingType).toBe('VirtualDiskFlatVer2BackingInfo');
    expect(snap.disks[0]!.controller?.kind).toBe('scsi');
    expect(String(cfg.annotation)).toContain('\n');
  });

  it('06/07/08 VM runtime, summary and snapshot keep values verbatim', () => {
    const rt = retrieveResult(returnValues(parseSoapResponse(real('06-')))).objects[0]!.props.get('runtime') as Record<string, unknown>;
    expect(rt.powerState).toBe('poweredOn');
    expect(rt.connectionState).toBe('connected');
    const sum = retrieveResult(returnValues(parseSoapResponse(real('07-')))).objects[0]!;
    expect(sum.obj).toEqual({ type: 'VirtualMachine', value: 'vm-22' });
    const snap = retrieveResult(returnValues(parseSoapResponse(real('08-')))).objects[0]!.props.get('snapshot');
    expect(JSON.stringify(snap)).toContain('10%252f24%252f2018');
  });

  it('09 ArrayOfEvent inside a property: events dispatched on xsi:type', () => {
    const val = retrieveResult(returnValues(parseSoapResponse(real('09-')))).objects[0]!.props.get('configIssue');
    const events = (val as unknown[]).map((e) => vimEvent(e as never));
    expect(events.map((e) => e.type)).toEqual(['LocalTSMEnabledEvent', 'RemoteTSMEnabledEvent']);
    expect(events[0]!.host).toEqual({ name: '192.0.2.5', host: { type: 'HostSystem', value: 'host-14' } });
    expect(events[0]!.createdTime).toEqual(new Date('2018-12-14T14:43:59.628Z'));
    expect(events[0]!.userName).toBeUndefined();
  });

  it('11/12 host cryptoState and capability flags', () => {
    const rt = returnValue(parseSoapResponse(real('11-'))) as Record<string, unknown>;
    expect(rt.cryptoState).toBe('incapable');
    const cap = retrieveResult(returnValues(parseSoapResponse(real('12-')))).objects[0]!.props.get('capability') as Record<string, unknown>;
    expect(cap.cryptoSupported).toBe('true');
  });

  it('13 no returnval → unset; 14 void → no values', () => {
    expect(returnValue(parseSoapResponse(real('13-')))).toBeUndefined();
    const r14 = parseSoapResponse(real('14-'), { method: 'DestroyView' });
    expect(returnValues(r14)).toEqual([]);
  });

  it('15 ArrayOfManagedObjectReference with session-scoped view id', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(real('15-')))).objects[0]!;
    expect(o.obj.type).toBe('ContainerView');
    expect(o.obj.value).toMatch(/^session\[d997a63e-[^\]]+\]521c/);
    const view = morefs(o.props.get('view'));
    expect(view.length).toBeGreaterThan(1);
    expect(view.every((m) => m.type === 'VirtualMachine' && /^vm-\d+$/.test(m.value))).toBe(true);
  });

  it('16/17 PBM bodies (urn:pbm) parse to generic typed objects; asking for a vim25 response is a clear error', () => {
    const profiles = returnValues(parseSoapResponse(real('16-')));
    expect(profiles).toHaveLength(4);
    expect(profiles.every((p) => isObj(p) && p._type === 'PbmCapabilityProfile')).toBe(true);
    expect(profiles.some((p) => isObj(p) && p.name === 'VM Encryption Policy')).toBe(true);
    const results = returnValues(parseSoapResponse(real('17-')));
    const first = results[0] as Record<string, unknown>;
    const error = first.error as Record<string, unknown>;
    expect(error._type).toBe('LocalizedMethodFault');
    expect((error.fault as Record<string, unknown>)._type).toBe('PbmPropertyMismatchFault');
    expect(() => parseSoapResponse(real('16-'), { method: 'RetrievePropertiesEx' })).toThrow(TransportError);
    expect(() => parseSoapResponse(real('16-'), { method: 'RetrievePropertiesEx' })).toThrow(/unexpected response element PbmRetrieveContentResponse/);
  });

  it('18 ArrayOfAlarmState → AlarmState[] with Date times', () => {
    const states = alarmStates(returnValue(parseSoapResponse(real('18-'))));
    expect(states).toHaveLength(3);
    expect(states[0]).toEqual({
      key: '252.9',
      entity: { type: 'ClusterComputeResource', value: 'domain-c9' },
      alarm: { type: 'Alarm', value: 'alarm-252' },
      overallStatus: 'yellow',
      time: new Date('2023-12-12T09:44:27.941Z'),
      acknowledged: false,
      eventKey: 1427,
    });
  });

  it('19 MoRef returnval without xsi:type', () => {
    expect(returnValue(parseSoapResponse(real('19-')))).toEqual({ type: 'Task', value: 'task-518718' });
  });

  it('20/23 WaitForUpdates changeSets', () => {
    const u20 = updateSet(returnValue(parseSoapResponse(real('20-'))))!;
    expect(u20.version).toBe('6');
    expect(u20.updates).toEqual([{ kind: 'enter', obj: { type: 'Task', value: 'task-518718' }, changeSet: [{ name: 'info.state', op: 'assign', val: 'success' }], missingSet: [] }]);
    const u23 = updateSet(returnValue(parseSoapResponse(real('23-'))))!;
    expect(u23.version).toBe('1');
    expect(u23.updates[0]!.obj).toEqual({ type: 'VirtualMachine', value: '1' });
    expect(u23.updates[0]!.changeSet).toEqual([
      { name: 'name', op: 'assign', val: 'NFS server' },
      { name: 'overallStatus', op: 'assign', val: 'green' },
      { name: 'runtime.powerState', op: 'assign', val: 'poweredOff' },
    ]);
  });

  it('21 legacy RetrieveProperties TaskInfo with a MoRef result', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(real('21-')))).objects[0]!;
    const info = taskInfo(o.props.get('info'));
    expect(info.state).toBe('success');
    expect(info.task).toEqual({ type: 'Task', value: 'task-518718' });
    expect(info.result).toEqual({ type: 'VirtualMachine', value: 'vm-58946' });
    expect(info.entity).toEqual({ type: 'VirtualMachine', value: 'vm-58499' });
    expect(info.completeTime).toEqual(new Date('2013-12-31T01:02:15.779Z'));
  });

  it('25 NoPermission with privilegeId and Folder object', () => {
    const err = faultOf(real('25-'));
    expect(err).toBeInstanceOf(NoPermission);
    expect(err).not.toBeInstanceOf(NotAuthenticated);
    expect((err as NoPermission).privilegeId).toBe('VirtualMachine.Interact.PowerOn');
    expect((err as NoPermission).object?.type).toBe('Folder');
  });

  it('27 NotAuthenticated inside missingSet (no envelope)', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(real('27-')))).objects[0]!;
    expect(o.props.get('messageLocaleList')).toEqual(['ja', 'zh_CN', 'en', 'de', 'zh_TW', 'ko', 'fr']);
    expect(o.missing.map((m) => m.path)).toEqual(['message', 'sessionList']);
    expect(o.missing[0]!.fault).toBeInstanceOf(NotAuthenticated);
    expect((o.missing[1]!.fault as NotAuthenticated).privilegeId).toBe('Sessions.TerminateSession');
  });

  it('29 legacy VM config: FlatVer2 disk and a self-closing typed fault kept as an object', () => {
    const cfg = retrieveResult(returnValues(parseSoapResponse(real('29-')))).objects[0]!.props.get('config') as Record<string, unknown>;
    const disks = vmCryptoSnapshot({ type: 'VirtualMachine', value: 'vm-51' }, new Map([['config.hardware.device', (cfg.hardware as Record<string, unknown>).device as never]])).disks;
    expect(disks).toHaveLength(1);
    expect(disks[0]!.backingType).toBe('VirtualDiskFlatVer2BackingInfo');
    expect(JSON.stringify(cfg.tools)).toContain('ToolsImageNotAvailable');
  });
});

describe('vcsim response bodies', () => {
  it('parses every recorded response', () => {
    const files = readdirSync(VCSIM).filter((f) => f.endsWith('.response.xml'));
    expect(files.length).toBe(61); // numbering has gaps on purpose
    for (const f of files) {
      const status = /HTTP\/1.1 500/.test(readFileSync(VCSIM + f.replace('.response.xml', '.meta.txt'), 'utf8')) ? 500 : 200;
      try {
        parseSoapResponse(readFileSync(VCSIM + f, 'utf8'), { status });
        expect(status, f).toBe(200);
      } catch (err) {
        expect(err, f).toBeInstanceOf(VimFault);
        expect(status, f).toBe(500);
      }
    }
  });

  it('04 VM view: absent cryptoState/keyId, empty ArrayOfAlarmState → []', () => {
    const objs = retrieveResult(returnValues(parseSoapResponse(sim('04-')))).objects;
    expect(objs.map((o) => o.obj.value)).toEqual(['vm-62', 'vm-65', 'vm-68', 'vm-71']);
    const s = vmCryptoSnapshot(objs[0]!.obj, objs[0]!.props);
    expect(s.cryptoState).toBeUndefined();
    expect(s.keyId).toBeUndefined();
    expect(s.triggeredAlarmState).toEqual([]);
    expect(s.powerState).toBe('poweredOn');
    expect(s.host).toEqual({ type: 'HostSystem', value: 'host-21' });
    expect(s.bootOrder).toEqual([]);
    expect(s.disks.length).toBeGreaterThan(0);
  });

  it('08 initial WaitForUpdatesEx: unset config.keyId has no val, version "-"', () => {
    const u = updateSet(returnValue(parseSoapResponse(sim('08-'))))!;
    expect(u.version).toBe('-');
    expect(u.updates).toHaveLength(4);
    const keyChange = u.updates[0]!.changeSet.find((c) => c.name === 'config.keyId')!;
    expect(keyChange).toEqual({ name: 'config.keyId', op: 'assign' });
    expect(u.updates[0]!.changeSet.find((c) => c.name === 'triggeredAlarmState')!.val).toEqual([]);
  });

  it('10/42 TaskInfo via RetrievePropertiesEx (vcsim prefixes)', () => {
    const info = taskInfo(retrieveResult(returnValues(parseSoapResponse(sim('10-')))).objects[0]!.props.get('info'));
    expect(info).toMatchObject({ key: 'task-73', state: 'success', name: 'PowerOff', entity: { type: 'VirtualMachine', value: 'vm-65' } });
    expect(info.queueTime).toBeInstanceOf(Date);
    const created = taskInfo(retrieveResult(returnValues(parseSoapResponse(sim('42-')))).objects[0]!.props.get('info'));
    expect(created.result).toEqual({ type: 'VirtualMachine', value: 'vm-80' });
  });

  it('12 empty WaitForUpdatesEx → null', () => {
    expect(updateSet(returnValue(parseSoapResponse(sim('12-'))))).toBeNull();
  });

  it('14 ReadNextEvents: 8 history events typed by xsi:type', () => {
    const events = returnValues(parseSoapResponse(sim('14-'))).map(vimEvent);
    expect(events).toHaveLength(8);
    expect(events[0]!.type).toBe('VmBeingCreatedEvent');
    expect(events[0]!.vm).toEqual({ name: 'DC0_H0_VM1', vm: { type: 'VirtualMachine', value: 'vm-65' } });
    expect(events.map((e) => e.type)).toContain('VmPoweredOffEvent');
    expect(events.every((e) => e.createdTime instanceof Date && Number.isInteger(e.key))).toBe(true);
  });

  it('15 GetAlarm: three Alarm MoRefs', () => {
    expect(morefs(returnValues(parseSoapResponse(sim('15-'))))).toEqual([
      { type: 'Alarm', value: 'alarm-384' },
      { type: 'Alarm', value: 'alarm-11' },
      { type: 'Alarm', value: 'alarm-12' },
    ]);
  });

  it('18 triggeredAlarmState populated', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(sim('18-')))).objects[0]!;
    const st = vmStateSummary(o.obj, o.props).triggeredAlarmState;
    expect(st).toHaveLength(1);
    expect(st[0]).toMatchObject({ key: '384.62', alarm: { type: 'Alarm', value: 'alarm-384' }, overallStatus: 'red', acknowledged: false, eventKey: 40 });
    expect(st[0]!.time).toBeInstanceOf(Date);
  });

  it('22 ListKmipServers, 26 ListKeys, 34 QueryCryptoKeyStatus', () => {
    expect(returnValues(parseSoapResponse(sim('22-'))).map(kmipClusterInfo)).toEqual([
      { clusterId: { id: 'kp-test' }, servers: [{ name: 'kms-1', address: 'kms.example.invalid', port: 5696 }], useAsDefault: true, managementType: 'vCenter' },
    ]);
    const keys = cryptoKeyIds(returnValues(parseSoapResponse(sim('26-'))));
    expect(keys).toHaveLength(3);
    expect(keys.every((k) => k.providerId?.id === 'kp-test')).toBe(true);
    const status = returnValues(parseSoapResponse(sim('34-'))).map(cryptoKeyStatus);
    expect(status.map((s) => s?.keyAvailable)).toEqual([true, true, false, false]);
    expect(status[2]).toMatchObject({ reason: 'KeyStateMissingInKMS', encryptedVMs: [], affectedHosts: [], referencedByTags: [] });
    expect(status[3]!.keyId.providerId).toEqual({ id: 'no-such-provider' });
  });

  it('33 encrypted VM snapshot: home key, disk keys, controller, alarm', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(sim('33-')))).objects[0]!;
    const s = vmCryptoSnapshot(o.obj, o.props);
    expect(s.keyId).toEqual({ keyId: '4862ac1a-86db-4352-8032-907173a7621f', providerId: { id: 'kp-test' } });
    expect(s.disks.map((d) => d.key)).toEqual([204, 205]);
    const d0 = s.disks[0]!;
    expect(d0).toMatchObject({
      key: 204,
      label: 'disk-202-0',
      controllerKey: 202,
      controller: { kind: 'scsi', busNumber: 0 },
      unitNumber: 0,
      fileName: '[LocalDS_0] DC0_H0_VM1/disk1.vmdk',
      backingType: 'VirtualDiskFlatVer2BackingInfo',
      keyId: { keyId: '64eb8033-1d71-40d8-994e-603f3fa8d45e', providerId: { id: 'kp-test' } },
      parentKeyIds: [],
      capacityInKB: 10485760,
      datastore: { type: 'Datastore', value: 'datastore-59' },
    });
    expect(s.triggeredAlarmState[0]!.alarm.value).toBe('alarm-74');
  });

  it('44/45/49/51 faults: MethodNotFound, NotAuthenticated (empty faultstring), ManagedObjectNotFound.obj, InvalidLogin', () => {
    expect(faultOf(sim('44-'))).toBeInstanceOf(MethodNotFound);
    const na = faultOf(sim('45-')) as NotAuthenticated;
    expect(na).toBeInstanceOf(NotAuthenticated);
    expect(na).toBeInstanceOf(NoPermission);
    expect(na.privilegeId).toBe('System.View');
    expect(na.message).toBe('NotAuthenticated');
    const mo = faultOf(sim('49-')) as ManagedObjectNotFound;
    expect(mo).toBeInstanceOf(ManagedObjectNotFound);
    expect(mo.obj).toEqual({ type: 'VirtualMachine', value: 'vm-99999' });
    expect(faultOf(sim('51-'))).toBeInstanceOf(InvalidLogin);
  });

  it('46 NotAuthenticated in missingSet with HTTP 200', () => {
    const o = retrieveResult(returnValues(parseSoapResponse(sim('46-')))).objects[0]!;
    expect(o.missing.map((m) => m.path)).toEqual(['name', 'runtime.powerState']);
    expect(o.missing.every((m) => m.fault instanceof NotAuthenticated)).toBe(true);
  });
});

describe('malformed input', () => {
  it('truncated XML, HTML error pages, empty bodies and 500 without fault become TransportError', () => {
    const body = sim('33-');
    expect(() => parseSoapResponse(body.slice(0, body.length / 2))).toThrow(TransportError);
    expect(() => parseSoapResponse('<html><body>Bad gateway</body>', { status: 502 })).toThrow(/HTTP 502/);
    expect(() => parseSoapResponse('')).toThrow(TransportError);
    expect(() => parseSoapResponse('not xml at all')).toThrow(TransportError);
    expect(() => parseSoapResponse(sim('52-'), { status: 500 })).toThrow(/HTTP 500 without a SOAP fault/);
  });

  it('an unknown xsi:type is kept as a generic object and the rest of the response parses', () => {
    const xml = sim('33-').replace('_XMLSchema-instance:type="VirtualCdrom"', '_XMLSchema-instance:type="VirtualFutureDevice"');
    const o = retrieveResult(returnValues(parseSoapResponse(xml))).objects[0]!;
    const devices = o.props.get('config.hardware.device') as Record<string, unknown>[];
    expect(devices.some((d) => d._type === 'VirtualFutureDevice')).toBe(true);
    expect(vmCryptoSnapshot(o.obj, o.props).disks).toHaveLength(2);
  });
});
