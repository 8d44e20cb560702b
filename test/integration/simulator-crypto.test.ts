import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl, type RunningSimulator } from '../../src/simulator/index.ts';
import type { SimVmState } from '../../src/simulator/control-client.ts';
import { asList, objSpec, SoapProbe } from '../../src/simulator/soap-probe.ts';

const logger = createLogger({ level: 'silent' });

/** Polls Task.info until it leaves queued/running; returns the raw TaskInfo XML. */
async function waitTask(p: SoapProbe, task: string): Promise<{ state: string; xml: string }> {
  for (let i = 0; i < 200; i++) {
    const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('Task', task, ['info.state', 'info'])}</specSet><options/>`);
    const m = /<name>info.state<\/name><val xsi:type="TaskInfoState">(\w+)<\/val>/.exec(a.text);
    const state = m?.[1] ?? 'unknown';
    if (state === 'success' || state === 'error') return { state, xml: a.text };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`task ${task} did not finish`);
}

function taskId(text: string): string {
  const m = /<returnval type="Task">(task-\d+)<\/returnval>/.exec(text);
  if (!m) throw new Error(`no task in: ${text}`);
  return m[1] as string;
}

describe('simulator crypto world (mixed scenario)', () => {
  let sim: RunningSimulator;
  let ctl: SimControl;
  let p: SoapProbe;
  let byName: Map<string, SimVmState>;
  const vm = (name: string): SimVmState => {
    const v = byName.get(name);
    if (!v) throw new Error(`no VM ${name}`);
    return v;
  };
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'mixed', logger, taskDurationsMs: { default: 20, CryptoUnlock_Task: 20 } });
    ctl = new SimControl(sim.controlUrl);
    p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    byName = new Map((await ctl.vms()).map((v) => [v.name, v]));
  });
  afterAll(async () => sim.stop());

  it('starts in the state each cause needs', async () => {
    expect(vm('healthy')).toMatchObject({ cryptoState: 'unlocked', connectionState: 'connected', powerState: 'poweredOn', triggeredAlarms: [] });
    for (const n of ['host-rebooted', 'home-key-missing-in-kms', 'home-key-inactive', 'kms-unreachable', 'missing-privilege', 'host-not-crypto-safe']) {
      expect(vm(n), n).toMatchObject({ cryptoState: 'locked', connectionState: 'invalid' });
      expect(vm(n).triggeredAlarms, n).toEqual([{ alarm: 'alarm-1', overallStatus: 'red', acknowledged: false }]);
    }
    for (const n of ['nonboot-disk-key-missing', 'boot-disk-key-missing', 'boot-disk-unknown']) {
      expect(vm(n), n).toMatchObject({ cryptoState: 'unlocked', connectionState: 'connected', powerState: 'poweredOff', triggeredAlarms: [] });
    }
    expect(vm('stale-alarm')).toMatchObject({ cryptoState: 'unlocked', triggeredAlarms: [{ overallStatus: 'red' }] });
    const scenario = await ctl.scenario();
    expect(scenario.name).toBe('mixed');
    const causes = Object.fromEntries(scenario.vms.map((v) => [v.name, v.expect.cause]));
    expect(causes).toMatchObject({
      'host-rebooted': 'keys-missing-on-host',
      'home-key-missing-in-kms': 'home-key-missing-in-kms',
      'kms-unreachable': 'kms-unreachable',
      'nonboot-disk-key-missing': 'nonboot-disk-key-missing',
      'stale-alarm': 'stale-alarm',
    });
    // The scenario's power-on attempts failed and left events for the poller.
    const events = await ctl.events();
    const failed = events.filter((e) => e.type === 'VmFailedToPowerOnEvent').map((e) => e.vm);
    expect(failed).toEqual(expect.arrayContaining([vm('nonboot-disk-key-missing').moref, vm('boot-disk-key-missing').moref]));
    const lockedIds = events.filter((e) => e.eventTypeId?.startsWith('com.vmware.vc.vm.Crypto.VMLocked')).map((e) => [e.vm, e.eventTypeId]);
    expect(lockedIds).toEqual(
      expect.arrayContaining([
        [vm('host-rebooted').moref, 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost'],
        [vm('home-key-missing-in-kms').moref, 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS'],
        [vm('kms-unreachable').moref, 'com.vmware.vc.vm.Crypto.VMLocked.KMSClusterError'],
      ]),
    );
  });

  it('reports runtime.cryptoState/connectionState and host crypto over SOAP', async () => {
    const h = vm('host-not-crypto-safe').host;
    const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('HostSystem', h, ['runtime.cryptoState', 'configManager.cryptoManager'])}</specSet><options/>`);
    expect(a.text).toContain('<val xsi:type="xsd:string">incapable</val>');
    expect(a.text).toContain(`<val type="CryptoManagerHostKMS" xsi:type="ManagedObjectReference">CryptoManagerHost-${h}</val>`);
  });

  it('QueryCryptoKeyStatus answers availability and reasons per the bitmap', async () => {
    const keys = ['host-rebooted', 'home-key-missing-in-kms', 'home-key-inactive', 'kms-unreachable'].map((n) => vm(n).keyId as { keyId: string; providerId: string });
    const inner = keys.map((k) => `<keyIds><keyId>${k.keyId}</keyId><providerId><id>${k.providerId}</id></providerId></keyIds>`).join('') + '<checkKeyBitMap>3</checkKeyBitMap>';
    const a = await p.call('QueryCryptoKeyStatus', 'CryptoManagerKmip', 'CryptoManager', inner);
    const rows = asList<{ keyAvailable: string; reason?: string; encryptedVMs?: unknown }>(a.body.returnval);
    expect(rows.map((r) => [r.keyAvailable, r.reason])).toEqual([
      ['true', undefined],
      ['false', 'KeyStateMissingInKMS'],
      ['false', 'KeyStateNotActiveOrEnabled'],
      ['false', 'KeyStateClusterUnreachable'],
    ]);
    expect(a.text).toContain(`<encryptedVMs type="VirtualMachine">${vm('host-rebooted').moref}</encryptedVMs>`);
    const only1 = await p.call('QueryCryptoKeyStatus', 'CryptoManagerKmip', 'CryptoManager', inner.replace('>3<', '>1<'));
    expect(only1.text).not.toContain('encryptedVMs');
  });

  it('ListKeys: a host lists its cache, vCenter lists keys in use', async () => {
    const rebooted = vm('host-rebooted');
    const hostKeys = await p.call('ListKeys', 'CryptoManagerHostKMS', `CryptoManagerHost-${rebooted.host}`);
    expect(hostKeys.text).not.toContain(rebooted.keyId?.keyId);
    const vcKeys = await p.call('ListKeys', 'CryptoManagerKmip', 'CryptoManager');
    expect(vcKeys.text).toContain(rebooted.keyId?.keyId);
    const healthy = vm('healthy');
    const h1 = await p.call('ListKeys', 'CryptoManagerHostKMS', `CryptoManagerHost-${healthy.host}`);
    expect(h1.text).toContain(healthy.keyId?.keyId);
  });

  it('KMS health: ListKmipServers, IsKmsClusterActive, RetrieveKmipServersStatus_Task, down/up', async () => {
    const list = await p.call('ListKmipServers', 'CryptoManagerKmip', 'CryptoManager');
    expect(list.text).toContain('<clusterId><id>kms-main</id></clusterId><servers><name>kms-a</name>');
    const active = async (id: string) => (await p.call('IsKmsClusterActive', 'CryptoManagerKmip', 'CryptoManager', `<cluster><id>${id}</id></cluster>`)).text.includes('<returnval>true</returnval>');
    expect(await active('kms-main')).toBe(true);
    expect(await active('kms-remote')).toBe(false);
    expect((await p.call('IsKmsClusterActive', 'CryptoManagerKmip', 'CryptoManager', '<cluster><id>nope</id></cluster>')).fault).toBe('InvalidArgument');
    const t = taskId((await p.call('RetrieveKmipServersStatus_Task', 'CryptoManagerKmip', 'CryptoManager')).text);
    const done = await waitTask(p, t);
    expect(done.state).toBe('success');
    expect(done.xml).toContain('<result xsi:type="ArrayOfCryptoManagerKmipClusterStatus"><CryptoManagerKmipClusterStatus xsi:type="CryptoManagerKmipClusterStatus"><clusterId><id>kms-main</id></clusterId><overallStatus>green</overallStatus>');
    await ctl.kmsCluster('kms-main', 'down');
    expect(await active('kms-main')).toBe(false);
    await ctl.kmsCluster('kms-main', 'up');
    expect(await active('kms-main')).toBe(true);
  });

  it('CryptoUnlock_Task unlocks when the home key can be sent, and clears the alarm', async () => {
    const v = vm('host-rebooted');
    const done = await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref)).text));
    expect(done.state).toBe('success');
    const after = await ctl.vm(v.moref);
    expect(after).toMatchObject({ cryptoState: 'unlocked', connectionState: 'connected', triggeredAlarms: [] });
    const events = await ctl.events();
    expect(events.some((e) => e.vm === v.moref && e.eventTypeId === 'com.vmware.vc.vm.Crypto.VMUnlocked')).toBe(true);
    expect((await ctl.stats()).tasksStarted[v.moref]).toMatchObject({ CryptoUnlock_Task: 1 });
  });

  it('CryptoUnlock_Task fails with InvalidVmState when the KMS cannot give the key; succeeds once it is restored', async () => {
    const v = vm('home-key-missing-in-kms');
    const done = await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref)).text));
    expect(done.state).toBe('error');
    expect(done.xml).toContain('<error><fault xsi:type="InvalidVmState">');
    expect(done.xml).toContain(`<vm type="VirtualMachine">${v.moref}</vm>`);
    expect((await ctl.vm(v.moref)).cryptoState).toBe('locked');
    await ctl.kmsKey('k-gone', 'restore');
    const again = await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref)).text));
    expect(again.state).toBe('success');
    expect((await ctl.vm(v.moref)).cryptoState).toBe('unlocked');
  });

  it('CryptoUnlock_Task needs Cryptographer.RegisterVM on the VM folder (NoPermission), grant fixes it', async () => {
    const v = vm('missing-privilege');
    const a = await p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref);
    expect(a.fault).toBe('NoPermission');
    expect(a.text).toContain(`<object type="Folder">${v.folder}</object><privilegeId>Cryptographer.RegisterVM</privilegeId>`);
    const priv = await p.call('HasPrivilegeOnEntities', 'AuthorizationManager', 'AuthorizationManager', `<entity type="Folder">${v.folder}</entity><entity type="Folder">${vm('healthy').folder}</entity><sessionId>${p.cookie.split('=')[1]?.replace(/"/g, '')}</sessionId><privId>Cryptographer.RegisterVM</privId>`);
    const rows = asList<{ privAvailability: { isGranted: string } }>(priv.body.returnval);
    expect(rows.map((r) => r.privAvailability.isGranted)).toEqual(['false', 'true']);
    await ctl.grant(sim.user, 'Cryptographer.RegisterVM', v.folder);
    const done = await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref)).text));
    expect(done.state).toBe('success');
  });

  it('the readonly-crypto user gets NoPermission on CryptoUnlock_Task', async () => {
    const q = new SoapProbe(sim.url);
    expect((await q.login('readonly-crypto', sim.password)).status).toBe(200);
    expect((await q.call('CryptoUnlock_Task', 'VirtualMachine', vm('kms-unreachable').moref)).fault).toBe('NoPermission');
  });

  it('CryptoUnlock_Task on a host that is not crypto safe fails with InvalidState', async () => {
    const done = await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', vm('host-not-crypto-safe').moref)).text));
    expect(done.state).toBe('error');
    expect(done.xml).toContain('<fault xsi:type="InvalidState">');
    expect(done.xml).toContain('not crypto safe');
  });

  it('PowerOnVM_Task: EncryptionKeyRequired on a locked VM, GenericVmConfigFault msg.disk.encrypted on a missing disk key', async () => {
    const locked = await waitTask(p, taskId((await p.call('PowerOnVM_Task', 'VirtualMachine', vm('kms-unreachable').moref)).text));
    expect(locked.state).toBe('error');
    // A locked VM is poweredOn in the scenario: InvalidPowerState first.
    expect(locked.xml).toContain('InvalidPowerState');
    const disk = await waitTask(p, taskId((await p.call('PowerOnVM_Task', 'VirtualMachine', vm('nonboot-disk-key-missing').moref)).text));
    expect(disk.state).toBe('error');
    expect(disk.xml).toContain('<fault xsi:type="GenericVmConfigFault"><faultMessage><key>msg.disk.encrypted</key>');
    await ctl.lock([vm('boot-disk-key-missing').moref]);
    const home = await waitTask(p, taskId((await p.call('PowerOnVM_Task', 'VirtualMachine', vm('boot-disk-key-missing').moref)).text));
    expect(home.xml).toContain('<fault xsi:type="EncryptionKeyRequired">');
    expect(home.xml).toContain(`<requiredKey><keyId>${vm('boot-disk-key-missing').keyId?.keyId}</keyId>`);
  });

  it('ReconfigVM_Task detaches a disk and keeps its file, then power-on succeeds; destroy is recorded; a locked VM refuses', async () => {
    const v = vm('nonboot-disk-key-missing');
    const lost = v.disks[1] as SimVmState['disks'][number];
    const spec = `<spec><deviceChange><operation>remove</operation><device xsi:type="VirtualDisk"><key>${lost.key}</key><controllerKey>1000</controllerKey><unitNumber>1</unitNumber></device></deviceChange></spec>`;
    const done = await waitTask(p, taskId((await p.call('ReconfigVM_Task', 'VirtualMachine', v.moref, spec)).text));
    expect(done.state).toBe('success');
    let stats = await ctl.stats();
    expect(stats.detachedFiles).toContain(lost.fileName);
    expect(stats.destroyedFiles).toEqual([]);
    expect((await ctl.vm(v.moref)).disks.map((d) => d.key)).not.toContain(lost.key);
    const on = await waitTask(p, taskId((await p.call('PowerOnVM_Task', 'VirtualMachine', v.moref)).text));
    expect(on.state).toBe('success');
    expect((await ctl.vm(v.moref)).powerState).toBe('poweredOn');

    const b = vm('boot-disk-unknown');
    const destroy = `<spec><deviceChange><operation>remove</operation><fileOperation>destroy</fileOperation><device xsi:type="VirtualDisk"><key>${b.disks[0]?.key}</key></device></deviceChange></spec>`;
    await waitTask(p, taskId((await p.call('ReconfigVM_Task', 'VirtualMachine', b.moref, destroy)).text));
    stats = await ctl.stats();
    expect(stats.destroyedFiles).toEqual([b.disks[0]?.fileName]);

    const l = vm('home-key-inactive');
    const refused = await waitTask(p, taskId((await p.call('ReconfigVM_Task', 'VirtualMachine', l.moref, spec.replace(String(lost.key), String(l.disks[0]?.key)))).text));
    expect(refused.state).toBe('error');
    expect(refused.xml).toContain('<fault xsi:type="InvalidState">');
  });

  it('reloadVirtualMachineFromPath_Task re-sends keys with Cryptographer.RegisterVM and refuses powered-on connected VMs', async () => {
    const v = vm('kms-unreachable');
    await ctl.kmsCluster('kms-remote', 'up');
    const path = `[vsanDatastore] ${v.name}/${v.name}.vmx`;
    const done = await waitTask(p, taskId((await p.call('reloadVirtualMachineFromPath_Task', 'VirtualMachine', v.moref, `<configurationPath>${path}</configurationPath>`)).text));
    expect(done.state).toBe('success');
    expect((await ctl.vm(v.moref)).cryptoState).toBe('unlocked');
    const refused = await p.call('reloadVirtualMachineFromPath_Task', 'VirtualMachine', v.moref, `<configurationPath>${path}</configurationPath>`);
    expect(refused.fault).toBe('InvalidPowerState');
  });

  it('control API: reboot locks a host\'s VMs, remove-key locks one, bad requests get 400 naming the problem', async () => {
    const h = vm('healthy');
    const r = await ctl.rebootHost(h.host);
    expect(r.locked).toContain(h.moref);
    expect((await ctl.vm(h.moref)).cryptoState).toBe('locked');
    await waitTask(p, taskId((await p.call('CryptoUnlock_Task', 'VirtualMachine', h.moref)).text));
    expect((await ctl.vm(h.moref)).cryptoState).toBe('unlocked');
    await ctl.removeHostKey(h.host, 'k-healthy');
    expect((await ctl.vm(h.moref)).cryptoState).toBe('locked');
    await expect(ctl.lock(['vm-nope'])).rejects.toThrow(/HTTP 400.*unknown VM "vm-nope"/);
    await expect(ctl.grant('nobody', 'X')).rejects.toThrow(/HTTP 400.*unknown user "nobody"/);
    await expect(ctl.kmsKey('k-healthy', 'explode' as 'remove')).rejects.toThrow(/HTTP 400.*unknown key action/);
    const res = await fetch(`${sim.controlUrl}/lock`, { method: 'POST', body: JSON.stringify({ vms: 'vm-1' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: '"vms" must be an array of VM morefs' });
  });
});

describe('simulator --api-version 6.5', () => {
  it('has no runtime.cryptoState nor CryptoUnlock_Task; locked VMs show invalid with config.keyId', async () => {
    const sim = await startSimulator({ scenario: 'mixed', apiVersion: '6.5', logger });
    try {
      const p = new SoapProbe(sim.url);
      const sc = await p.call('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance');
      expect(sc.text).toContain('<apiVersion>6.5</apiVersion>');
      await p.login(sim.user, sim.password);
      const v = (await new SimControl(sim.controlUrl).vm('host-rebooted')).moref;
      const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', v, ['runtime.cryptoState', 'runtime.connectionState', 'config.keyId'])}</specSet><options/>`);
      expect(a.text).not.toContain('runtime.cryptoState');
      expect(a.text).toContain('<val xsi:type="VirtualMachineConnectionState">invalid</val>');
      expect(a.text).toContain('<name>config.keyId</name><val xsi:type="CryptoKeyId">');
      expect((await p.call('CryptoUnlock_Task', 'VirtualMachine', v)).fault).toBe('MethodNotFound');
      const reload = await p.call('reloadVirtualMachineFromPath_Task', 'VirtualMachine', v, `<configurationPath>[vsanDatastore] host-rebooted/host-rebooted.vmx</configurationPath>`);
      expect(reload.status).toBe(200);
    } finally {
      await sim.stop();
    }
  });
});

describe('simulator snapshot chains and boot options', () => {
  it('prints backing.parent chains with their keys, and a missing parent key blocks power-on', async () => {
    const sim = await startSimulator({
      logger,
      taskDurationsMs: { default: 10 },
      scenario: {
        name: 'chain',
        kms: [{ id: 'kms-1', default: true }],
        keys: { home: 'active', top: 'active', old: 'missing' },
        hosts: [{ name: 'esx-1' }],
        vms: [
          {
            name: 'snap',
            host: 'esx-1',
            powerState: 'poweredOff',
            key: 'home',
            disks: [{ at: 'nvme0:0', key: 'top', parents: ['old'], backing: 'sesparse' }],
            bootOrder: ['cdrom', 'disk:0', 'ethernet'],
            extraConfig: { 'bios.hddOrder': 'nvme0:0' },
          },
          { name: 'plain', host: 'esx-1', connectionState: 'invalid', disks: [{ at: 'scsi0:0' }], expect: { outcome: 'escalated', cause: 'not-encrypted' } },
        ],
      },
    });
    try {
      const ctl = new SimControl(sim.controlUrl);
      const vm = await ctl.vm('snap');
      expect(vm.disks[0]).toMatchObject({ fileName: '[vsanDatastore] snap/snap-000001.vmdk', parentKeyIds: [{ providerId: 'kms-1' }] });
      await ctl.removeHostKey(vm.host, 'old');
      const p = new SoapProbe(sim.url);
      await p.login(sim.user, sim.password);
      const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', vm.moref, ['config.hardware.device', 'config.bootOptions.bootOrder', 'config.extraConfig'])}</specSet><options/>`);
      expect(a.text).toContain('<VirtualDevice xsi:type="VirtualNVMEController">');
      expect(a.text).toMatch(/<backing xsi:type="VirtualDiskSeSparseBackingInfo"><fileName>\[vsanDatastore\] snap\/snap-000001.vmdk<\/fileName>.*<parent xsi:type="VirtualDiskSeSparseBackingInfo"><fileName>\[vsanDatastore\] snap\/snap.vmdk<\/fileName>.*<keyId><keyId>[0-9a-f-]{36}<\/keyId><providerId><id>kms-1<\/id><\/providerId><\/keyId><\/parent>.*<keyId>/);
      expect(a.text).toContain('<val xsi:type="ArrayOfVirtualMachineBootOptionsBootableDevice"><VirtualMachineBootOptionsBootableDevice xsi:type="VirtualMachineBootOptionsBootableCdromDevice"></VirtualMachineBootOptionsBootableDevice><VirtualMachineBootOptionsBootableDevice xsi:type="VirtualMachineBootOptionsBootableDiskDevice"><deviceKey>2000</deviceKey>');
      expect(a.text).toContain('<OptionValue xsi:type="OptionValue"><key>bios.hddOrder</key><value xsi:type="xsd:string">nvme0:0</value></OptionValue>');
      expect(await ctl.powerOnAttempt(vm.moref)).toMatchObject({ ok: false, fault: 'GenericVmConfigFault' });

      // A VM that is not encrypted but shows invalid (the not-encrypted cause).
      const plain = await ctl.vm('plain');
      expect(plain).toMatchObject({ connectionState: 'invalid', cryptoState: 'unlocked', keyId: null, triggeredAlarms: [] });
      const r = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', plain.moref, ['runtime.connectionState', 'config.keyId'])}</specSet><options/>`);
      expect(r.text).toContain('<val xsi:type="VirtualMachineConnectionState">invalid</val>');
      expect(r.text).not.toContain('config.keyId');
    } finally {
      await sim.stop();
    }
  });
});
