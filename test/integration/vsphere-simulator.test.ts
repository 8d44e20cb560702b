import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { VsphereClient, type SoapCallRecord } from '../../src/vsphere/client.ts';
import { CheckKey, type ObjectUpdate } from '../../src/vsphere/types.ts';
import { TransportError, VimFault } from '../../src/vsphere/faults.ts';
import { createLogger } from '../../src/log.ts';

/** The client against the project's vCenter simulator over real HTTP (mixed scenario). */
let sim: RunningSimulator;
let control: SimControl;
let client: VsphereClient;
const calls: SoapCallRecord[] = [];

const vmRef = (value: string) => ({ type: 'VirtualMachine', value });

beforeAll(async () => {
  sim = await startSimulator({ scenario: 'mixed', logger: createLogger({ level: 'silent' }) });
  control = new SimControl(sim.url.replace(/\/sdk$/, '/_sim'));
  client = new VsphereClient({ name: 'sim', url: sim.url, user: sim.user, password: sim.password, callTimeoutMs: 20_000, onCall: (c) => calls.push(c) });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await sim?.stop();
});

async function vmByName(name: string) {
  return control.vm(name);
}

describe('reads against the simulator', () => {
  it('listVmStates matches the simulator inventory', async () => {
    const states = await client.listVmStates();
    const truth = await control.vms();
    expect(states).toHaveLength(truth.length);
    for (const t of truth) {
      const s = states.find((x) => x.moref.value === t.moref)!;
      expect(s.name).toBe(t.name);
      expect(s.cryptoState).toBe(t.cryptoState);
      expect(s.powerState).toBe(t.powerState);
      expect(s.keyId?.keyId).toBe(t.keyId?.keyId);
    }
  });

  it('getVmCryptoSnapshots: disks with keys, host, path; a missing VM is null', async () => {
    const truth = await control.vms();
    const snaps = await client.getVmCryptoSnapshots([...truth.map((t) => vmRef(t.moref)), vmRef('vm-999999')]);
    expect(snaps.get('vm-999999')).toBeNull();
    for (const t of truth) {
      const s = snaps.get(t.moref)!;
      expect(s.host?.value).toBe(t.host);
      expect(s.vmPathName).toMatch(/\.vmx$/);
      expect(s.disks.map((d) => [d.key, d.fileName, d.keyId?.keyId])).toEqual(t.disks.map((d) => [d.key, d.fileName, d.keyId?.keyId]));
    }
  });

  it('host crypto, host key cache, vCenter keys, KMS clusters and key status', async () => {
    const vm = await vmByName('healthy');
    const host = { type: 'HostSystem', value: vm.host };
    const info = (await client.getHostCrypto([host, { type: 'HostSystem', value: 'host-99999' }]));
    expect(info.get('host-99999')).toBeNull();
    const h = info.get(vm.host)!;
    expect(h.cryptoState).toBe('safe');
    expect(h.cryptoManager).toBeDefined();
    const cached = await client.listHostKeys(h.cryptoManager!);
    expect(cached.some((k) => k.keyId === vm.keyId!.keyId)).toBe(true);
    const keys = await client.listKeys();
    expect(keys.some((k) => k.keyId === vm.keyId!.keyId)).toBe(true);
    const clusters = await client.listKmipServers();
    expect(clusters.map((c) => c.clusterId.id)).toContain('kms-main');
    expect(await client.isKmsClusterActive({ id: 'kms-main' })).toBe(true);
    const missing = await vmByName('home-key-missing-in-kms');
    const status = await client.queryCryptoKeyStatus([{ keyId: vm.keyId!.keyId, providerId: { id: vm.keyId!.providerId } }, { keyId: missing.keyId!.keyId, providerId: { id: missing.keyId!.providerId } }], CheckKey.available | CheckKey.usedByVms);
    expect(status.map((s) => s.keyAvailable)).toEqual([true, false]);
    expect(status[1]!.reason).toBeDefined();
    const kmsStatus = await client.retrieveKmipServersStatus(clusters);
    expect(kmsStatus.map((c) => c.clusterId.id)).toContain('kms-main');
  });

  it('privileges, alarms, events and current time', async () => {
    const root = client.serviceContent.rootFolder;
    const priv = await client.hasPrivilegeOnEntities([root], ['System.View', 'Cryptographer.RegisterVM']);
    expect(priv[0]!.entity).toEqual(root);
    expect(priv[0]!.privAvailability.map((p) => p.privId)).toEqual(['System.View', 'Cryptographer.RegisterVM']);
    const alarms = await client.getAlarms();
    expect(alarms.length).toBeGreaterThan(0);
    expect(alarms.every((a) => a.moref.type === 'Alarm' && a.name.length > 0)).toBe(true);
    const collector = await client.createEventCollector({ beginTime: new Date(0), maxCount: 50 });
    const events = await collector.readNext(50);
    expect(Array.isArray(events)).toBe(true);
    await collector.destroy();
    await collector.destroy();
    expect(Math.abs((await client.currentTime()).getTime() - Date.now())).toBeLessThan(60_000);
  });
});

describe('tasks against the simulator', () => {
  it('cryptoUnlock + waitForTask unlocks a VM; a second incident costs at most 3 SOAP calls', async () => {
    const first = await vmByName('host-rebooted');
    const task = await client.cryptoUnlock(vmRef(first.moref));
    const info = await client.waitForTask(task, { timeoutMs: 15_000 });
    expect(info.state).toBe('success');
    expect((await vmByName('host-rebooted')).cryptoState).toBe('unlocked');

    await control.rebootHost(first.host);
    const before = calls.length;
    const again = await client.cryptoUnlock(vmRef(first.moref));
    expect((await client.waitForTask(again, { timeoutMs: 15_000 })).state).toBe('success');
    const used = calls.slice(before).map((c) => c.method);
    expect(used.length, used.join(',')).toBeLessThanOrEqual(3);
    expect(used.filter((m) => m === 'CreatePropertyCollector' || m === 'CreateFilter')).toEqual([]);
  });

  it('a storm of concurrent unlocks stays within 3 SOAP calls per incident', async () => {
    const unlockedOn = (await control.vms()).filter((v) => v.cryptoState === 'unlocked' && v.powerState === 'poweredOn' && v.keyId);
    const targets = unlockedOn.map((v) => v.moref);
    await control.lock(targets);
    const before = calls.length;
    const infos = await Promise.all(targets.map(async (m) => client.waitForTask(await client.cryptoUnlock(vmRef(m)), { timeoutMs: 15_000 })));
    expect(infos.every((i) => i.state === 'success')).toBe(true);
    const used = calls.length - before;
    expect(targets.length).toBeGreaterThan(1);
    expect(used, calls.slice(before).map((c) => c.method).join(',')).toBeLessThanOrEqual(3 * targets.length);
    expect((await control.vms()).filter((v) => targets.includes(v.moref)).every((v) => v.cryptoState === 'unlocked')).toBe(true);
  });

  it('task waits recover after a vCenter restart (collector and filters gone)', async () => {
    const vm = await vmByName('healthy');
    await control.restart();
    await control.lock([vm.moref]);
    const task = await client.cryptoUnlock(vmRef(vm.moref));
    expect((await client.waitForTask(task, { timeoutMs: 15_000 })).state).toBe('success');
  });

  it('a failing task rejects with its typed fault', async () => {
    const vm = await vmByName('home-key-missing-in-kms');
    const task = await client.cryptoUnlock(vmRef(vm.moref));
    const err = await client.waitForTask(task, { timeoutMs: 15_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VimFault);
  });

  it('detachDisk keeps the .vmdk (detached, not destroyed), reusing the disk of a recent snapshot', async () => {
    const vm = await vmByName('nonboot-disk-key-missing');
    const disk = vm.disks.find((d) => d.key !== 2000)!;
    await client.getVmCryptoSnapshots([vmRef(vm.moref)]);
    await control.resetStats();
    const before = calls.length;
    const task = await client.detachDisk(vmRef(vm.moref), disk.key);
    expect(calls.slice(before).map((c) => c.method)).toEqual(['ReconfigVM_Task']);
    expect((await client.waitForTask(task, { timeoutMs: 15_000 })).state).toBe('success');
    const stats = await control.stats();
    expect(stats.detachedFiles).toContain(disk.fileName);
    expect(stats.destroyedFiles).toEqual([]);
    expect((await vmByName('nonboot-disk-key-missing')).disks.map((d) => d.key)).not.toContain(disk.key);
  });
});

describe('sessions and faults against the simulator', () => {
  it('an expired session is renewed once and listeners are told', async () => {
    let renewed = 0;
    const off = client.onSessionRenewed(() => renewed++);
    await control.expireSessions();
    expect((await client.listVmStates()).length).toBeGreaterThan(0);
    expect(renewed).toBe(1);
    // The task collector of the old session is gone too; waiting still works.
    const vm = await vmByName('healthy');
    await control.lock([vm.moref]);
    const task = await client.cryptoUnlock(vmRef(vm.moref));
    expect((await client.waitForTask(task, { timeoutMs: 15_000 })).state).toBe('success');
    off();
  });

  it('an injected delay beyond callTimeout is a TransportError; an injected fault is typed', async () => {
    const quick = new VsphereClient({ name: 'quick', url: sim.url, user: sim.user, password: sim.password, callTimeoutMs: 500 });
    await quick.connect();
    await control.injectFault({ method: 'CurrentTime', delayMs: 2000 });
    await expect(quick.currentTime()).rejects.toBeInstanceOf(TransportError);
    await control.injectFault({ method: 'CurrentTime', fault: 'SystemError' });
    await expect(quick.currentTime()).rejects.toMatchObject({ name: 'SystemError' });
    await control.clearFaults();
    await quick.close();
  });
});

describe('watchObjects against the simulator', () => {
  it('initial state of every VM, then the lock of one VM, then cleanup on abort', async () => {
    const controller = new AbortController();
    const vm = await vmByName('stale-alarm');
    const batches: { updates: ObjectUpdate[]; initial: boolean }[] = [];
    const done = client.watchObjects(
      { type: 'VirtualMachine', paths: ['name', 'runtime.cryptoState', 'runtime.powerState'] },
      async (updates, meta) => {
        batches.push({ updates, initial: meta.initial });
        if (meta.initial) await control.lock([vm.moref]);
        const locked = updates.find((u) => u.obj.value === vm.moref && u.changeSet.some((c) => c.name === 'runtime.cryptoState' && c.val === 'locked'));
        if (!meta.initial && locked) controller.abort();
      },
      { signal: controller.signal, maxWaitSeconds: 5 },
    );
    await done;
    expect(batches[0]!.initial).toBe(true);
    expect(batches[0]!.updates.length).toBe((await control.vms()).length);
    expect(batches.at(-1)!.initial).toBe(false);
    const methods = calls.map((c) => c.method);
    expect(methods).toContain('CancelWaitForUpdates');
    expect(methods).toContain('DestroyView');
  });
});
