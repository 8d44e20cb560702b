import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl, type RunningSimulator } from '../../src/simulator/index.ts';
import { asList, objSpec, SoapProbe, viewSpec } from '../../src/simulator/soap-probe.ts';

const logger = createLogger({ level: 'silent' });

interface ObjectContent {
  obj: { '#text': string; '@type': string };
  propSet?: unknown;
}
interface ObjectUpdateXml {
  kind: string;
  obj: { '#text': string };
  changeSet?: unknown;
}

function props(o: ObjectContent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of asList<{ name: string; val: unknown }>(o.propSet)) out[p.name] = p.val;
  return out;
}

function objectUpdates(body: Record<string, unknown>): ObjectUpdateXml[] {
  const rv = body.returnval as { filterSet?: unknown } | undefined;
  return asList<{ objectSet?: unknown }>(rv?.filterSet).flatMap((f) => asList<ObjectUpdateXml>(f.objectSet));
}

const version = (body: Record<string, unknown>): string => String((body.returnval as { version: string }).version);

describe('simulator PropertyCollector', () => {
  let sim: RunningSimulator;
  let ctl: SimControl;
  let p: SoapProbe;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'clean', vms: 25, logger, taskDurationsMs: { default: 30 } });
    ctl = new SimControl(sim.controlUrl);
    p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
  });
  afterAll(async () => sim.stop());

  it('pages RetrievePropertiesEx over a ContainerView with maxObjects and tokens', async () => {
    const view = await p.containerView('VirtualMachine');
    const first = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${viewSpec(view, 'VirtualMachine', ['name', 'runtime.cryptoState', 'config.keyId'])}</specSet><options><maxObjects>10</maxObjects></options>`);
    expect(first.status).toBe(200);
    const seen: string[] = [];
    let rv = first.body.returnval as { token?: string; objects: unknown };
    seen.push(...asList<ObjectContent>(rv.objects).map((o) => o.obj['#text']));
    expect(first.text).toContain('<val xsi:type="VirtualMachineCryptoState">unlocked</val>');
    expect(first.text).toMatch(/<val xsi:type="CryptoKeyId"><keyId>[0-9a-f-]{36}<\/keyId><providerId><id>kms-main<\/id><\/providerId><\/val>/);
    while (rv.token) {
      const token = rv.token;
      const next = await p.call('ContinueRetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<token>${token}</token>`);
      rv = next.body.returnval as { token?: string; objects: unknown };
      seen.push(...asList<ObjectContent>(rv.objects).map((o) => o.obj['#text']));
      // A token works once.
      const again = await p.call('ContinueRetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<token>${token}</token>`);
      expect(again.fault).toBe('InvalidArgument');
    }
    expect(new Set(seen).size).toBe(25);
    expect(seen.length).toBe(25);
  });

  it('reads nested paths on one object and omits unset ones', async () => {
    const vms = await ctl.vms();
    const id = (vms[0] as { moref: string }).moref;
    const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', id, ['config.hardware.device', 'config.files.vmPathName', 'runtime.host', 'parent', 'config.keyId.providerId.id'])}</specSet><options/>`);
    const o = asList<ObjectContent>((a.body.returnval as { objects: unknown }).objects)[0] as ObjectContent;
    const pr = props(o);
    expect(pr['config.files.vmPathName']).toMatchObject({ '#text': expect.stringMatching(/^\[vsanDatastore\] .*\.vmx$/) });
    expect(a.text).toContain('<val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="ParaVirtualSCSIController">');
    expect(a.text).toContain('<backing xsi:type="VirtualDiskFlatVer2BackingInfo">');
    expect(a.text).toMatch(/<name>runtime.host<\/name><val type="HostSystem" xsi:type="ManagedObjectReference">host-\d+<\/val>/);
    expect(a.text).toContain('<name>config.keyId.providerId.id</name><val xsi:type="xsd:string">kms-main</val>');
  });

  it('WaitForUpdatesEx: full enter on "", modify after a change, null on timeout, InvalidCollectorVersion for unknown versions', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const col = (await q.call('CreatePropertyCollector', 'PropertyCollector', 'propertyCollector')).body.returnval as { '#text': string };
    const pc = col['#text'];
    expect(pc).toMatch(/^session\[[0-9a-f-]+\][0-9a-f-]+$/);
    const view = await q.containerView('VirtualMachine');
    const f = await q.call('CreateFilter', 'PropertyCollector', pc, `<spec>${viewSpec(view, 'VirtualMachine', ['runtime.cryptoState', 'runtime.connectionState', 'triggeredAlarmState'])}</spec><partialUpdates>false</partialUpdates>`);
    expect(f.status).toBe(200);

    const initial = await q.call('WaitForUpdatesEx', 'PropertyCollector', pc, '<version></version><options><maxWaitSeconds>5</maxWaitSeconds></options>');
    const enters = objectUpdates(initial.body);
    expect(enters).toHaveLength(25);
    expect(enters.every((u) => u.kind === 'enter')).toBe(true);
    const v1 = version(initial.body);

    const timeout = await q.call('WaitForUpdatesEx', 'PropertyCollector', pc, `<version>${v1}</version><options><maxWaitSeconds>1</maxWaitSeconds></options>`);
    expect(timeout.status).toBe(200);
    expect(timeout.body.returnval).toBeUndefined();

    const target = enters[3]?.obj['#text'] as string;
    const waiting = q.call('WaitForUpdatesEx', 'PropertyCollector', pc, `<version>${v1}</version><options><maxWaitSeconds>10</maxWaitSeconds></options>`);
    await new Promise((r) => setTimeout(r, 100));
    await ctl.lock([target]);
    const changed = await waiting;
    const mods = objectUpdates(changed.body);
    expect(mods).toHaveLength(1);
    expect(mods[0]).toMatchObject({ kind: 'modify', obj: { '#text': target } });
    expect(changed.text).toContain('<name>runtime.cryptoState</name><op>assign</op><val xsi:type="VirtualMachineCryptoState">locked</val>');
    expect(changed.text).toContain('<name>runtime.connectionState</name><op>assign</op><val xsi:type="VirtualMachineConnectionState">invalid</val>');
    expect(changed.text).toContain('<name>triggeredAlarmState</name><op>assign</op><val xsi:type="ArrayOfAlarmState"><AlarmState xsi:type="AlarmState">');

    const stale = await q.call('WaitForUpdatesEx', 'PropertyCollector', pc, `<version>${v1}</version><options><maxWaitSeconds>1</maxWaitSeconds></options>`);
    expect(stale.fault).toBe('InvalidCollectorVersion');
  });

  it('truncates with maxObjectUpdates and delivers the rest on the returned version', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const view = await q.containerView('VirtualMachine');
    await q.call('CreateFilter', 'PropertyCollector', 'propertyCollector', `<spec>${viewSpec(view, 'VirtualMachine', ['name'])}</spec><partialUpdates>false</partialUpdates>`);
    const ids = new Set<string>();
    let ver = '';
    let rounds = 0;
    for (;;) {
      const a = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', `<version>${ver}</version><options><maxWaitSeconds>0</maxWaitSeconds><maxObjectUpdates>10</maxObjectUpdates></options>`);
      if (!a.body.returnval) break;
      const ups = objectUpdates(a.body);
      expect(ups.length).toBeLessThanOrEqual(10);
      for (const u of ups) ids.add(u.obj['#text']);
      ver = version(a.body);
      rounds++;
      const truncated = (a.body.returnval as { truncated?: string }).truncated === 'true';
      if (!truncated) break;
    }
    expect(ids.size).toBe(25);
    expect(rounds).toBe(3);
  });

  it('CancelWaitForUpdates ends a blocked wait with RequestCanceled', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const view = await q.containerView('HostSystem');
    await q.call('CreateFilter', 'PropertyCollector', 'propertyCollector', `<spec>${viewSpec(view, 'HostSystem', ['runtime.cryptoState'])}</spec><partialUpdates>false</partialUpdates>`);
    const first = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>');
    expect(objectUpdates(first.body).length).toBeGreaterThan(0);
    const blocked = q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', `<version>${version(first.body)}</version><options><maxWaitSeconds>30</maxWaitSeconds></options>`);
    await new Promise((r) => setTimeout(r, 100));
    const cancel = await q.call('CancelWaitForUpdates', 'PropertyCollector', 'propertyCollector');
    expect(cancel.status).toBe(200);
    expect((await blocked).fault).toBe('RequestCanceled');
  });

  it('follows TaskManager.recentTask to Task.info through a TraversalSpec (queued/running → success)', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const vms = await ctl.vms();
    const vm = vms.find((v) => v.powerState === 'poweredOn' && v.cryptoState === 'unlocked') as { moref: string };
    const spec =
      '<propSet><type>Task</type><pathSet>info.state</pathSet><pathSet>info.error</pathSet></propSet>' +
      '<objectSet><obj type="TaskManager">TaskManager</obj><skip>true</skip><selectSet xsi:type="TraversalSpec"><name>recent</name><type>TaskManager</type><path>recentTask</path><skip>false</skip></selectSet></objectSet>';
    await q.call('CreateFilter', 'PropertyCollector', 'propertyCollector', `<spec>${spec}</spec><partialUpdates>false</partialUpdates>`);
    const init = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>');
    let ver = init.body.returnval ? version(init.body) : '';
    const start = await q.call('PowerOffVM_Task', 'VirtualMachine', vm.moref);
    const task = (start.body.returnval as { '#text': string })['#text'];
    expect(start.text).toMatch(/<returnval type="Task">task-\d+<\/returnval>/);
    const states: string[] = [];
    for (let i = 0; i < 20 && !states.includes('success'); i++) {
      const a = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', `<version>${ver}</version><options><maxWaitSeconds>5</maxWaitSeconds></options>`);
      if (!a.body.returnval) continue;
      ver = version(a.body);
      for (const u of objectUpdates(a.body)) {
        if (u.obj['#text'] !== task) continue;
        for (const c of asList<{ name: string; val?: { '#text'?: string } }>(u.changeSet)) if (c.name === 'info.state' && c.val?.['#text']) states.push(c.val['#text']);
      }
    }
    expect(states[states.length - 1]).toBe('success');
    const info = await q.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('Task', task, ['info'])}</specSet><options/>`);
    expect(info.text).toContain('<val xsi:type="TaskInfo">');
    expect(info.text).toMatch(/<name>PowerOffVM_Task<\/name><descriptionId>VirtualMachine.powerOff<\/descriptionId><entity type="VirtualMachine">vm-\d+<\/entity>/);
    expect(info.text).toMatch(/<queueTime>.*<\/queueTime><startTime>.*<\/startTime><completeTime>.*<\/completeTime>/);
  });

  it('a removed VM leaves the view (kind leave) and is ManagedObjectNotFound afterwards', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const view = await q.containerView('VirtualMachine');
    await q.call('CreateFilter', 'PropertyCollector', 'propertyCollector', `<spec>${viewSpec(view, 'VirtualMachine', ['name'])}</spec><partialUpdates>false</partialUpdates>`);
    const init = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>');
    const gone = (await ctl.vms())[7]?.moref as string;
    await ctl.removeVm(gone);
    const next = await q.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', `<version>${version(init.body)}</version><options><maxWaitSeconds>5</maxWaitSeconds></options>`);
    expect(objectUpdates(next.body)).toEqual([{ kind: 'leave', obj: { '#text': gone, '@type': 'VirtualMachine' } }]);
    const read = await q.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', gone, ['name'])}</specSet><options/>`);
    expect(read.fault).toBe('ManagedObjectNotFound');
    const missing = await q.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', gone, ['name'])}<reportMissingObjectsInResults>true</reportMissingObjectsInResults></specSet><options/>`);
    expect(missing.status).toBe(200);
    expect(missing.body.returnval).toBeUndefined();
  });

  it('filters and versions are lost on /_sim/restart (NotAuthenticated, then a fresh start)', async () => {
    const q = new SoapProbe(sim.url);
    await q.login(sim.user, sim.password);
    const view = await q.containerView('VirtualMachine');
    await ctl.restart();
    expect((await q.call('DestroyView', 'ContainerView', view)).fault).toBe('NotAuthenticated');
    await q.login(sim.user, sim.password);
    expect((await q.call('DestroyView', 'ContainerView', view)).fault).toBe('ManagedObjectNotFound');
  });
});
