import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl, type RunningSimulator } from '../../src/simulator/index.ts';
import { asList, objSpec, SoapProbe } from '../../src/simulator/soap-probe.ts';

const logger = createLogger({ level: 'silent' });

describe('simulator alarms and events', () => {
  let sim: RunningSimulator;
  let ctl: SimControl;
  let p: SoapProbe;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'clean', vms: 6, logger });
    ctl = new SimControl(sim.controlUrl);
    p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
  });
  afterAll(async () => sim.stop());

  it('defines the locked-VM alarm with an OrAlarmExpression of the VMLocked event ids', async () => {
    const a = await p.call('GetAlarm', 'AlarmManager', 'AlarmManager');
    expect(a.text).toContain('<returnval type="Alarm">alarm-1</returnval>');
    expect((await p.call('GetAlarm', 'AlarmManager', 'AlarmManager', '<entity type="Folder">group-v3</entity>')).body.returnval).toBeUndefined();
    const info = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('Alarm', 'alarm-1', ['info'])}</specSet><options/>`);
    expect(info.text).toContain('<name>Encrypted VM locked</name>');
    expect(info.text).toContain('<expression xsi:type="OrAlarmExpression"><expression xsi:type="EventAlarmExpression"><eventType>EventEx</eventType><eventTypeId>com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost</eventTypeId><objectType>VirtualMachine</objectType><status>red</status></expression>');
    expect(info.text).toContain('com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS');
    expect(info.text).toContain('com.vmware.vc.vm.Crypto.VMLocked.KMSClusterError');
  });

  it('a lock adds an AlarmState and events; AcknowledgeAlarm sets acknowledged', async () => {
    const vm = (await ctl.vms())[0]?.moref as string;
    await ctl.lock([vm]);
    const st = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', vm, ['triggeredAlarmState'])}</specSet><options/>`);
    expect(st.text).toMatch(new RegExp(`<AlarmState xsi:type="AlarmState"><key>1\\.\\d+</key><entity type="VirtualMachine">${vm}</entity><alarm type="Alarm">alarm-1</alarm><overallStatus>red</overallStatus><time>[^<]+</time><acknowledged>false</acknowledged><eventKey>\\d+</eventKey></AlarmState>`));
    const ack = await p.call('AcknowledgeAlarm', 'AlarmManager', 'AlarmManager', `<alarm type="Alarm">alarm-1</alarm><entity type="VirtualMachine">${vm}</entity>`);
    expect(ack.status).toBe(200);
    const st2 = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', vm, ['triggeredAlarmState'])}</specSet><options/>`);
    expect(st2.text).toContain('<acknowledged>true</acknowledged><acknowledgedByUser>administrator@vsphere.local</acknowledgedByUser>');
    expect((await ctl.vm(vm)).triggeredAlarms).toEqual([{ alarm: 'alarm-1', overallStatus: 'red', acknowledged: true }]);
  });

  it('EventHistoryCollector: filter by eventTypeId and entity, ReadNextEvents pages oldest to newest, then new events', async () => {
    const vms = await ctl.vms();
    const [a, b] = [vms[1]?.moref as string, vms[2]?.moref as string];
    await ctl.lock([a, b]);
    const filter = '<filter><eventTypeId>com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost</eventTypeId><eventTypeId>AlarmStatusChangedEvent</eventTypeId></filter>';
    const c = await p.call('CreateCollectorForEvents', 'EventManager', 'EventManager', filter);
    const col = (c.body.returnval as { '#text': string })['#text'];
    expect(c.text).toMatch(/<returnval type="EventHistoryCollector">session\[[^\]]+\][0-9a-f-]+<\/returnval>/);
    const keys: number[] = [];
    const types: string[] = [];
    for (;;) {
      const page = await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>2</maxCount>');
      const evs = asList<{ key: string; '@type': string }>(page.body.returnval);
      if (evs.length === 0) break;
      expect(evs.length).toBeLessThanOrEqual(2);
      for (const e of evs) {
        keys.push(Number(e.key));
        types.push(e['@type']);
      }
    }
    // 3 locks (one from the previous test) → 3 EventEx + 3 AlarmStatusChangedEvent.
    expect(keys).toHaveLength(6);
    expect([...keys].sort((x, y) => x - y)).toEqual(keys);
    expect(new Set(types)).toEqual(new Set(['EventEx', 'AlarmStatusChangedEvent']));

    const byVm = await p.call('CreateCollectorForEvents', 'EventManager', 'EventManager', `<filter><entity><entity type="VirtualMachine">${b}</entity><recursion>self</recursion></entity><eventTypeId>com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost</eventTypeId></filter>`);
    const bcol = (byVm.body.returnval as { '#text': string })['#text'];
    const only = await p.call('ReadNextEvents', 'EventHistoryCollector', bcol, '<maxCount>100</maxCount>');
    expect(only.text).toContain('<returnval xsi:type="EventEx">');
    expect(asList(only.body.returnval)).toHaveLength(1);
    expect(only.text).toContain(`<vm><name>`);
    expect(only.text).toContain(`<vm type="VirtualMachine">${b}</vm></vm>`);
    expect(only.text).toContain('<eventTypeId>com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost</eventTypeId><severity>error</severity>');

    // New events after the end are read next; an empty read has no returnval.
    expect((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>10</maxCount>')).body.returnval).toBeUndefined();
    await ctl.lock([vms[3]?.moref as string]);
    expect(asList((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>10</maxCount>')).body.returnval)).toHaveLength(2);

    const latest = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('EventHistoryCollector', bcol, ['latestPage'])}</specSet><options/>`);
    expect(latest.text).toContain('<val xsi:type="ArrayOfEvent"><Event xsi:type="EventEx">');

    expect((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>0</maxCount>')).fault).toBe('InvalidArgument');
    expect((await p.call('DestroyCollector', 'EventHistoryCollector', col)).status).toBe(200);
    expect((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>1</maxCount>')).fault).toBe('ManagedObjectNotFound');
  });

  it('a power-on attempt through the control API fails with EncryptionKeyRequired and a VmFailedToPowerOnEvent', async () => {
    const vm = (await ctl.vms())[4] as { moref: string };
    await p.call('PowerOffVM_Task', 'VirtualMachine', vm.moref);
    for (let i = 0; i < 100 && (await ctl.vm(vm.moref)).powerState !== 'poweredOff'; i++) await new Promise((r) => setTimeout(r, 20));
    const before = (await ctl.events()).length;
    await ctl.lock([vm.moref]);
    const r = await ctl.powerOnAttempt(vm.moref);
    expect(r).toMatchObject({ ok: false, fault: 'EncryptionKeyRequired' });
    const evs = (await ctl.events()).slice(before);
    expect(evs.map((e) => e.eventTypeId ?? e.type)).toEqual(['com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost', 'AlarmStatusChangedEvent', 'VmFailedToPowerOnEvent']);
    expect((await ctl.vm(vm.moref)).powerState).toBe('poweredOff');
  });

  it('filters by beginTime, reads backwards, and wakes WaitForUpdatesEx on latestPage', async () => {
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const c = await p.call('CreateCollectorForEvents', 'EventManager', 'EventManager', `<filter><time><beginTime>${since}</beginTime></time></filter>`);
    const col = (c.body.returnval as { '#text': string })['#text'];
    expect((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>10</maxCount>')).body.returnval).toBeUndefined();

    await p.call('CreateFilter', 'PropertyCollector', 'propertyCollector', `<spec>${objSpec('EventHistoryCollector', col, ['latestPage'])}</spec><partialUpdates>false</partialUpdates>`);
    const init = await p.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>');
    const ver = String((init.body.returnval as { version: string }).version);
    const waiting = p.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', `<version>${ver}</version><options><maxWaitSeconds>10</maxWaitSeconds></options>`);
    await new Promise((r) => setTimeout(r, 50));
    const vm = (await ctl.vms())[5]?.moref as string;
    await ctl.lock([vm]);
    const woke = await waiting;
    expect(woke.text).toContain('<name>latestPage</name><op>assign</op><val xsi:type="ArrayOfEvent">');
    expect(woke.text).toContain(`<vm type="VirtualMachine">${vm}</vm>`);

    const next = asList<{ key: string }>((await p.call('ReadNextEvents', 'EventHistoryCollector', col, '<maxCount>10</maxCount>')).body.returnval);
    expect(next).toHaveLength(2);
    const back = await p.call('ReadPreviousEvents', 'EventHistoryCollector', col, '<maxCount>1</maxCount>');
    expect(asList<{ key: string }>(back.body.returnval).map((e) => e.key)).toEqual([next[1]?.key]);
  });
});
