/**
 * The world's rules: lock state is derived, never stored. A VM is locked
 * (runtime.cryptoState locked, connectionState invalid) when its home key is
 * not in its host's key cache. Every change goes through touch(), which wakes
 * PropertyCollector waiters (one update function, as govmomi's Registry.Update).
 * refresh() turns lock transitions into the crypto events and the locked-VM alarm.
 */
import { INVENTORY_CHANGED } from './collector.ts';
import { EventLog, type NamedRef } from './events.ts';
import { faults, type SimFault } from './fault.ts';
import {
  keyName,
  type KeyRef,
  type KmsCluster,
  type KmsKeyState,
  type SimDatastore,
  type SimFolder,
  type SimHost,
  type SimVm,
} from './model.ts';
import { obj, str, type XVal } from './xml.ts';

export const EVENT_LOCKED_HOST = 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost';
export const EVENT_LOCKED_KMS = 'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS';
export const EVENT_LOCKED_KMS_ERROR = 'com.vmware.vc.vm.Crypto.VMLocked.KMSClusterError';
export const EVENT_UNLOCKED = 'com.vmware.vc.vm.Crypto.VMUnlocked';
export const LOCKED_ALARM_NAME = 'Encrypted VM locked';

export interface KeyAvailability {
  available: boolean;
  /** CryptoManagerKmipCryptoKeyStatusKeyUnavailableReason when not available. */
  reason?: string;
}

export interface SendKeysResult {
  homeSent: boolean;
  sent: KeyRef[];
  failed: { key: KeyRef; reason: string }[];
}

export type ApiVersion = '8.0.3' | '6.5';

export class World {
  readonly apiVersion: ApiVersion;
  readonly types = new Map<string, string>();
  readonly folders = new Map<string, SimFolder>();
  readonly hosts = new Map<string, SimHost>();
  readonly vms = new Map<string, SimVm>();
  readonly datastores = new Map<string, SimDatastore>();
  readonly kmsClusters = new Map<string, KmsCluster>();
  /** KMS contents: keyName() → state. A key absent here is missing in the KMS. */
  readonly kmsKeys = new Map<string, KmsKeyState>();
  readonly events = new EventLog();
  readonly rootFolderId = 'group-d1';
  datacenter = { id: 'datacenter-2', name: 'DC0', vmFolderId: 'group-v3', hostFolderId: 'group-h4', datastoreFolderId: 'group-s5', networkFolderId: 'group-n6' };
  cluster = { id: 'domain-c7', name: 'Cluster0', hostIds: [] as string[] };
  readonly alarm = { id: 'alarm-1', name: LOCKED_ALARM_NAME, created: Date.now() };
  readonly detachedFiles: string[] = [];
  readonly destroyedFiles: string[] = [];
  private nextId = 10;
  private readonly changeListeners = new Set<(ids: readonly string[]) => void>();

  constructor(apiVersion: ApiVersion = '8.0.3') {
    this.apiVersion = apiVersion;
    this.types.set(this.rootFolderId, 'Folder');
    this.folders.set(this.rootFolderId, { id: this.rootFolderId, name: 'Datacenters', parentId: undefined, childType: ['Folder', 'Datacenter'], children: [this.datacenter.id] });
    this.types.set(this.datacenter.id, 'Datacenter');
    const dcFolders: [string, string, string[]][] = [
      [this.datacenter.vmFolderId, 'vm', ['Folder', 'VirtualMachine', 'VirtualApp']],
      [this.datacenter.hostFolderId, 'host', ['Folder', 'ComputeResource']],
      [this.datacenter.datastoreFolderId, 'datastore', ['Folder', 'Datastore']],
      [this.datacenter.networkFolderId, 'network', ['Folder', 'Network']],
    ];
    for (const [id, name, childType] of dcFolders) {
      this.types.set(id, 'Folder');
      this.folders.set(id, { id, name, parentId: this.datacenter.id, childType, children: [] });
    }
    this.types.set(this.cluster.id, 'ClusterComputeResource');
    (this.folders.get(this.datacenter.hostFolderId) as SimFolder).children.push(this.cluster.id);
    this.types.set(this.alarm.id, 'Alarm');
  }

  /** A new vCenter-style id such as vm-42, host-12, group-v13. */
  newId(prefix: string, separator = '-'): string {
    return `${prefix}${separator}${this.nextId++}`;
  }

  // ---- change notification ----

  onChange(listener: (ids: readonly string[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Marks objects changed and wakes every PropertyCollector waiting on them. */
  touch(...ids: string[]): void {
    if (ids.length === 0) return;
    for (const l of this.changeListeners) l(ids);
  }

  // ---- lookups ----

  typeOf(id: string): string | undefined {
    return this.types.get(id);
  }

  vm(id: string): SimVm | undefined {
    return this.vms.get(id);
  }

  hostOf(vm: SimVm): SimHost {
    const h = this.hosts.get(vm.hostId);
    if (!h) throw new Error(`VM ${vm.id} is on unknown host ${vm.hostId}`);
    return h;
  }

  /** Parent id of any inventory object. */
  parentOf(id: string): string | undefined {
    const vm = this.vms.get(id);
    if (vm) return vm.folderId;
    const host = this.hosts.get(id);
    if (host) return host.clusterId;
    if (id === this.cluster.id) return this.datacenter.hostFolderId;
    if (id === this.datacenter.id) return this.rootFolderId;
    const folder = this.folders.get(id);
    if (folder) return folder.parentId;
    if (this.datastores.has(id)) return this.datacenter.datastoreFolderId;
    return undefined;
  }

  /** Whether entity is container or lies below it (inventory parents, or a VM on a host). */
  contains(entityId: string, containerId: string): boolean {
    if (entityId === containerId) return true;
    const vm = this.vms.get(entityId);
    if (vm && vm.hostId === containerId) return true;
    if (vm && containerId === this.cluster.id) return true;
    let cur = this.parentOf(entityId);
    for (let depth = 0; cur !== undefined && depth < 32; depth++) {
      if (cur === containerId) return true;
      cur = this.parentOf(cur);
    }
    return false;
  }

  nameOf(id: string): string {
    return this.vms.get(id)?.name ?? this.hosts.get(id)?.name ?? this.folders.get(id)?.name ?? (id === this.datacenter.id ? this.datacenter.name : id === this.cluster.id ? this.cluster.name : id);
  }

  named(id: string): NamedRef {
    return { type: this.typeOf(id) ?? 'ManagedEntity', id, name: this.nameOf(id) };
  }

  // ---- keys and the KMS ----

  /** Whether vCenter could fetch this key from its KMS right now. */
  kmsAvailability(key: KeyRef): KeyAvailability {
    const cluster = this.kmsClusters.get(key.providerId);
    if (!cluster) return { available: false, reason: 'KeyStateClusterInvalid' };
    if (!cluster.reachable) return { available: false, reason: 'KeyStateClusterUnreachable' };
    const state = this.kmsKeys.get(keyName(key));
    if (state === undefined) return { available: false, reason: 'KeyStateMissingInKMS' };
    if (state === 'inactive') return { available: false, reason: 'KeyStateNotActiveOrEnabled' };
    return { available: true };
  }

  /** Every disk key of a VM, each disk's whole parent chain included. */
  diskKeys(vm: SimVm): KeyRef[] {
    const keys: KeyRef[] = [];
    for (const d of vm.disks) {
      if (d.keyId) keys.push(d.keyId);
      for (const p of d.parents) if (p.keyId) keys.push(p.keyId);
    }
    return keys;
  }

  isLocked(vm: SimVm): boolean {
    return vm.homeKey !== undefined && !this.hostOf(vm).cache.has(keyName(vm.homeKey));
  }

  cryptoState(vm: SimVm): 'locked' | 'unlocked' {
    return this.isLocked(vm) ? 'locked' : 'unlocked';
  }

  connectionState(vm: SimVm): string {
    return this.isLocked(vm) ? 'invalid' : (vm.connectionOverride ?? 'connected');
  }

  /**
   * vCenter sends the VM's home key and every disk key the KMS can give to the
   * VM's host (CryptoUnlock_Task, reload with Cryptographer.RegisterVM).
   */
  sendKeys(vm: SimVm): SendKeysResult {
    const host = this.hostOf(vm);
    const result: SendKeysResult = { homeSent: vm.homeKey === undefined, sent: [], failed: [] };
    const all = vm.homeKey ? [vm.homeKey, ...this.diskKeys(vm)] : this.diskKeys(vm);
    for (const key of all) {
      const name = keyName(key);
      if (host.cache.has(name)) {
        if (key === vm.homeKey) result.homeSent = true;
        continue;
      }
      const a = this.kmsAvailability(key);
      if (a.available) {
        host.cache.add(name);
        result.sent.push(key);
        if (key === vm.homeKey) result.homeSent = true;
      } else {
        result.failed.push({ key, reason: a.reason ?? 'unknown' });
      }
    }
    // Only VMs whose home key just arrived can change state.
    for (const key of result.sent) {
      for (const id of this.vmsWithHomeKey(keyName(key))) {
        const other = this.vms.get(id);
        if (other && other.hostId === host.id) this.refreshVm(other);
      }
    }
    return result;
  }

  private homeKeyIndex: Map<string, string[]> | undefined;

  /** VM ids by home key (built on first use; VMs keep their home key for life). */
  private vmsWithHomeKey(name: string): string[] {
    if (!this.homeKeyIndex) {
      this.homeKeyIndex = new Map();
      for (const vm of this.vms.values()) {
        if (!vm.homeKey) continue;
        const n = keyName(vm.homeKey);
        const list = this.homeKeyIndex.get(n);
        if (list) list.push(vm.id);
        else this.homeKeyIndex.set(n, [vm.id]);
      }
    }
    return this.homeKeyIndex.get(name) ?? [];
  }

  /** Why a power-on of this VM fails now, or undefined when it would succeed. */
  powerOnFault(vm: SimVm): SimFault | undefined {
    const host = this.hostOf(vm);
    if (vm.homeKey && !host.cache.has(keyName(vm.homeKey))) {
      return faults.withMessages(
        'EncryptionKeyRequired',
        `The virtual machine is locked because the encryption key ${vm.homeKey.keyId} is not available on the host.`,
        ['msg.hostd.vmState.locked', 'msg.hostd.vmState.lockedKeyId', 'msg.hostd.vmState.lockedProviderId'],
        [['requiredKey', { k: 'a', item: 'CryptoKeyId', items: [cryptoKeyXVal(vm.homeKey)] }]],
      );
    }
    for (const d of vm.disks) {
      const chain = [d.keyId, ...d.parents.map((p) => p.keyId)].filter((k): k is KeyRef => k !== undefined);
      const missing = chain.find((k) => !host.cache.has(keyName(k)));
      if (missing) {
        return faults.withMessages(
          'GenericVmConfigFault',
          `The disk '${d.fileName}' is encrypted and a required key was not found.`,
          ['msg.disk.encrypted'],
          [['reason', str(`The disk '${d.fileName}' is encrypted and a required key was not found.`)]],
        );
      }
    }
    return undefined;
  }

  // ---- world changes (control API, tasks) ----

  /** Host reboot: its key cache empties; its VMs with keys lock and stay locked until unlocked. */
  rebootHost(host: SimHost): void {
    host.cache.clear();
    if (host.hostKey) host.cache.add(keyName(host.hostKey));
    host.bootTime = Date.now();
    this.touch(host.id);
    this.refreshHost(host);
  }

  removeHostKey(host: SimHost, key: KeyRef): boolean {
    const removed = host.cache.delete(keyName(key));
    if (removed) this.refreshHost(host);
    return removed;
  }

  /** Locks VMs by dropping their home key from their host cache. */
  lock(vm: SimVm): void {
    if (!vm.homeKey) return;
    this.hostOf(vm).cache.delete(keyName(vm.homeKey));
    this.refreshVm(vm);
  }

  /** Re-derives every VM of a host (after its cache changed). */
  refreshHost(host: SimHost): void {
    for (const id of host.vms) {
      const vm = this.vms.get(id);
      if (vm) this.refreshVm(vm);
    }
  }

  /** Notices a lock or unlock of one VM: events, alarm, watchers. Lock state is the only derived property, so nothing else changes. */
  refreshVm(vm: SimVm): void {
    const locked = this.isLocked(vm);
    if (locked === vm.lastLocked) return;
    vm.lastLocked = locked;
    this.touch(vm.id);
    const host = this.hostOf(vm);
    const common = {
      userName: '',
      datacenter: this.named(this.datacenter.id),
      computeResource: this.named(this.cluster.id),
      host: this.named(host.id),
      vm: this.named(vm.id),
      object: this.named(vm.id),
    };
    if (locked && vm.homeKey) {
      const a = this.kmsAvailability(vm.homeKey);
      const eventTypeId =
        a.reason === 'KeyStateClusterUnreachable' || a.reason === 'KeyStateClusterInvalid'
          ? EVENT_LOCKED_KMS_ERROR
          : a.available
            ? EVENT_LOCKED_HOST
            : EVENT_LOCKED_KMS;
      const message =
        eventTypeId === EVENT_LOCKED_KMS_ERROR
          ? `Virtual machine ${vm.name} is locked because of a key provider error.`
          : eventTypeId === EVENT_LOCKED_KMS
            ? `Virtual machine ${vm.name} is locked because keys are missing on the key provider.`
            : `Virtual machine ${vm.name} is locked because keys are missing on host ${host.name}.`;
      const ev = this.events.emit({ ...common, type: 'EventEx', eventTypeId, severity: 'error', message });
      this.triggerAlarm(vm, ev.key);
    } else if (!locked) {
      this.events.emit({ ...common, type: 'EventEx', eventTypeId: EVENT_UNLOCKED, severity: 'info', message: `Virtual machine ${vm.name} is unlocked.` });
      this.clearAlarm(vm);
    }
  }

  /** Adds (or re-arms) the locked-VM AlarmState on the VM, with an AlarmStatusChangedEvent. */
  triggerAlarm(vm: SimVm, eventKey: number | undefined): void {
    let state = vm.alarms.find((a) => a.alarmId === this.alarm.id);
    const from = state?.overallStatus ?? 'green';
    if (!state) {
      state = { key: `${this.alarm.id.slice(6)}.${vm.id.slice(3)}`, alarmId: this.alarm.id, overallStatus: 'red', time: Date.now(), acknowledged: false };
      vm.alarms.push(state);
    }
    state.overallStatus = 'red';
    state.time = Date.now();
    state.acknowledged = false;
    delete state.acknowledgedByUser;
    delete state.acknowledgedTime;
    if (eventKey !== undefined) state.eventKey = eventKey;
    if (from !== 'red') this.alarmEvent(vm, from, 'red');
    this.touch(vm.id);
  }

  /** The alarm goes back to green when the VM unlocks (its VMUnlocked event resets it). */
  clearAlarm(vm: SimVm): void {
    const i = vm.alarms.findIndex((a) => a.alarmId === this.alarm.id);
    if (i < 0) return;
    const from = (vm.alarms[i] as { overallStatus: string }).overallStatus;
    vm.alarms.splice(i, 1);
    this.alarmEvent(vm, from, 'green');
    this.touch(vm.id);
  }

  private alarmEvent(vm: SimVm, from: string, to: string): void {
    this.events.emit({
      type: 'AlarmStatusChangedEvent',
      userName: '',
      datacenter: this.named(this.datacenter.id),
      computeResource: this.named(this.cluster.id),
      host: this.named(vm.hostId),
      vm: this.named(vm.id),
      message: `Alarm '${this.alarm.name}' on ${vm.name} changed from ${from} to ${to}`,
      alarm: { type: 'Alarm', id: this.alarm.id, name: this.alarm.name },
      source: this.named(this.rootFolderId),
      entity: this.named(vm.id),
      from,
      to,
    });
  }

  /** Unregisters a VM (it is gone from the inventory; its files stay). */
  removeVm(vm: SimVm): void {
    this.vms.delete(vm.id);
    this.homeKeyIndex = undefined;
    this.types.delete(vm.id);
    this.hosts.get(vm.hostId)?.vms.delete(vm.id);
    const folder = this.folders.get(vm.folderId);
    if (folder) folder.children = folder.children.filter((c) => c !== vm.id);
    this.touch(vm.id, INVENTORY_CHANGED);
  }

  /** All VM ids, in creation order. */
  vmIds(): string[] {
    return [...this.vms.keys()];
  }
}

export function cryptoKeyXVal(k: KeyRef): XVal {
  return obj('CryptoKeyId', [
    ['keyId', str(k.keyId)],
    ['providerId', obj('KeyProviderId', [['id', str(k.providerId)]])],
  ]);
}
