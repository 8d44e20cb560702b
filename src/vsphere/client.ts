import type { EventCollector, VsphereApi } from './api.ts';
import { arr, bool, cryptoKeyIds, date, isObj, moref, morefs, str, type Decoded } from './decode.ts';
import { ManagedObjectNotFound, NotAuthenticated, TransportError, VimFault } from './faults.ts';
import {
  alarmEventTypeIds,
  cryptoKeyStatus,
  entityPrivilege,
  kmipClusterInfo,
  kmipClusterStatus,
  serviceContent as toServiceContent,
  userSession,
  vimEvent,
  type UserSession,
} from './normalize.ts';
import { retrieveResult, updateSet, type ObjectContent, type RetrieveResult, type UpdateSet } from './property-results.ts';
import { returnValue, returnValues } from './response.ts';
import { SoapCaller } from './soap-caller.ts';
import {
  containerViewObjectSpec,
  cryptoKeyIdArg,
  eventFilterArg,
  filterSpec,
  kmipClusterArg,
  mo,
  propertySpec,
  recentTaskObjectSpec,
  removeDiskSpec,
  type DiskToRemove,
  type PropertySpecArg,
} from './specs.ts';
import { TASK_PATHS, TaskWaiter, type TaskCompletionFeed, type WaitOptions } from './task-waiter.ts';
import { HttpTransport, type TlsOptions } from './transport.ts';
import type {
  AlarmDefinition,
  CryptoKeyId,
  CryptoKeyStatus,
  EntityPrivilege,
  EventFilter,
  HostCryptoInfo,
  KeyProviderId,
  KmipClusterInfo,
  KmipClusterStatus,
  MoRef,
  ObjectUpdate,
  ServiceContent,
  TaskInfo,
  VimEvent,
  VirtualDiskInfo,
  VmCryptoSnapshot,
  VmStateSummary,
} from './types.ts';
import { HOST_CRYPTO_PATHS, hostCryptoInfo, VM_SNAPSHOT_PATHS, VM_STATE_PATHS, vmCryptoSnapshot, vmStateSummary } from './vm-snapshot.ts';
import { watchObjects as runWatch } from './watch.ts';
import type { XNode } from './xml.ts';
import type { Logger } from '../log.ts';
import { redactUrl } from '../log.ts';
import { resolvePassword } from '../config/load.ts';
import type { VcenterConfig } from '../config/schema.ts';

/** One SOAP call as reported to metrics: method, duration and the fault type if it failed. */
export interface SoapCallRecord {
  vcenter: string;
  method: string;
  durationMs: number;
  /** vim25 fault type, or "TransportError". */
  fault?: string;
}

export interface VsphereClientOptions {
  name: string;
  url: string;
  user: string;
  password: string;
  tls?: TlsOptions;
  /** Timeout of one SOAP call (default 90 s). WaitForUpdatesEx waits stay below it. */
  callTimeoutMs?: number;
  /** SOAPAction version (default 8.0.3.0). */
  apiVersion?: string;
  logger?: Logger;
  onCall?: (record: SoapCallRecord) => void;
  /** maxObjects per RetrievePropertiesEx page (default 1000). */
  pageSize?: number;
  /** After this long without a call, CurrentTime keeps the session alive (default 10 min; 0 disables). */
  keepAliveMs?: number;
}

export { retrieveResult, updateSet, type ObjectContent, type RetrieveResult, type UpdateSet };

/** Per-client SOAP call counters (metrics read them or use onCall). */
export type CallCounters = Record<string, { calls: number; faults: number; totalMs: number }>;

const RECENT_DISKS_MAX = 10_000;
const RECENT_DISKS_TTL_MS = 10 * 60_000;

const NOT_CONNECTED = (name: string) => new TransportError(`vCenter ${name}: not connected (call connect() first)`);

/**
 * VsphereApi over vim25 SOAP. One instance per vCenter: its own HTTP agent,
 * session cookie, shared task-wait PropertyCollector and one ContainerView of
 * VMs for listVmStates. Low-level methods are named exactly as the WSDL
 * operations; the VsphereApi methods build on them.
 */
export class VsphereClient implements VsphereApi {
  readonly name: string;
  readonly calls: CallCounters = {};
  private readonly opts: VsphereClientOptions;
  private readonly transport: HttpTransport;
  private readonly callTimeoutMs: number;
  private readonly logger?: Logger;
  private caller: SoapCaller | undefined;
  private content: ServiceContent | undefined;
  private session: UserSession | undefined;
  private relogin: Promise<void> | undefined;
  /** Bumped by every re-login, so a call that failed on an already replaced session just retries. */
  private sessionGeneration = 0;
  private readonly renewListeners = new Set<() => void>();
  private readonly taskWaiter: TaskWaiter;
  private vmView: Promise<MoRef> | undefined;
  /** Disks of recently read snapshots, so detachDisk can send the full device without another read. */
  private readonly recentDisks = new Map<string, { at: number; disks: VirtualDiskInfo[] }>();
  private closed = false;
  private lastCallAt = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(opts: VsphereClientOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.logger = opts.logger;
    this.callTimeoutMs = opts.callTimeoutMs ?? 90_000;
    this.transport = new HttpTransport({ url: opts.url, tls: opts.tls, logger: opts.logger, apiVersion: opts.apiVersion ?? '8.0.3.0' });
    const currentTaskManager = (): MoRef | undefined => this.content?.taskManager;
    this.taskWaiter = new TaskWaiter(
      {
        get taskManager() {
          return currentTaskManager();
        },
        CreatePropertyCollector: () => this.CreatePropertyCollector(),
        DestroyPropertyCollector: (c) => this.DestroyPropertyCollector(c),
        DestroyPropertyFilter: (f) => this.DestroyPropertyFilter(f),
        createTaskFilter: (collector, target) => this.createTaskFilter(collector, target),
        waitForUpdates: (collector, version, maxWait) => this.WaitForUpdatesEx(collector, version, { maxWaitSeconds: maxWait }),
      },
      this.maxWaitSeconds(30),
      opts.logger,
    );
  }

  get serviceContent(): ServiceContent {
    if (!this.content) throw NOT_CONNECTED(this.name);
    return this.content;
  }

  get sessionKey(): string | undefined {
    return this.session?.key;
  }

  /** maxWaitSeconds for WaitForUpdatesEx: the wanted value, kept 5 s (or 20 %) below the call timeout. */
  maxWaitSeconds(wanted: number): number {
    const ceiling = Math.floor(Math.min(this.callTimeoutMs - 5000, this.callTimeoutMs * 0.8) / 1000);
    return Math.max(0, Math.min(wanted, ceiling));
  }

  // ---------------------------------------------------------------- plumbing

  private record(method: string, started: number, err?: unknown): void {
    const durationMs = performance.now() - started;
    const c = (this.calls[method] ??= { calls: 0, faults: 0, totalMs: 0 });
    c.calls++;
    c.totalMs += durationMs;
    let fault: string | undefined;
    if (err !== undefined) {
      c.faults++;
      fault = err instanceof VimFault ? err.faultType : 'TransportError';
    }
    try {
      this.opts.onCall?.({ vcenter: this.name, method, durationMs, ...(fault ? { fault } : {}) });
    } catch {
      // A metrics hook never breaks a call.
    }
  }

  private async rawCall(method: string, args: Record<string, unknown>, timeoutMs?: number): Promise<XNode> {
    if (this.closed) throw new TransportError(`vCenter ${this.name}: client is closed`);
    this.caller ??= await SoapCaller.create(this.transport);
    const started = performance.now();
    this.lastCallAt = Date.now();
    try {
      const { response } = await this.caller.call(method, args, timeoutMs ?? this.callTimeoutMs);
      this.record(method, started);
      return response;
    } catch (err) {
      this.record(method, started, err);
      throw err;
    }
  }

  /**
   * A call on the current session. On NotAuthenticated (a SOAP fault, or vcsim's
   * missingSet variant raised by the caller's check) logs in again once and retries.
   */
  private async invoke(method: string, args: Record<string, unknown>, opts: { timeoutMs?: number; check?: (r: XNode) => void } = {}): Promise<XNode> {
    const once = async () => {
      const r = await this.rawCall(method, args, opts.timeoutMs);
      opts.check?.(r);
      return r;
    };
    const generation = this.sessionGeneration;
    try {
      return await once();
    } catch (err) {
      if (!(err instanceof NotAuthenticated) || !this.session || this.closed) throw err;
      if (generation === this.sessionGeneration) await this.renewSession();
      return once();
    }
  }

  private renewSession(): Promise<void> {
    this.relogin ??= (async () => {
      this.logger?.info({ vcenter: this.name }, 'vCenter session expired; logging in again');
      this.transport.clearSession();
      await this.Login(this.opts.user, this.opts.password);
      this.sessionGeneration++;
      this.vmView = undefined;
      this.taskWaiter.reset();
      for (const l of [...this.renewListeners]) {
        try {
          l();
        } catch (err) {
          this.logger?.warn({ err: (err as Error).message }, 'onSessionRenewed listener failed');
        }
      }
    })().finally(() => {
      this.relogin = undefined;
    });
    return this.relogin;
  }

  private get sc(): ServiceContent {
    return this.serviceContent;
  }

  private need(ref: MoRef | undefined, what: string): MoRef {
    if (!ref) throw new TransportError(`vCenter ${this.name} has no ${what} (ServiceContent)`);
    return ref;
  }

  // ------------------------------------------------- WSDL operations (low level)

  async RetrieveServiceContent(): Promise<ServiceContent> {
    const r = await this.rawCall('RetrieveServiceContent', { _this: mo({ type: 'ServiceInstance', value: 'ServiceInstance' }) });
    try {
      return toServiceContent(returnValue(r));
    } catch (err) {
      throw new TransportError(`RetrieveServiceContent: ${(err as Error).message}`);
    }
  }

  async Login(userName: string, password: string): Promise<UserSession> {
    const sessionManager = this.need(this.sc.sessionManager, 'sessionManager');
    const r = await this.rawCall('Login', { _this: mo(sessionManager), userName, password });
    this.session = userSession(returnValue(r));
    return this.session;
  }

  async Logout(): Promise<void> {
    const sessionManager = this.need(this.sc.sessionManager, 'sessionManager');
    await this.rawCall('Logout', { _this: mo(sessionManager) }, Math.min(this.callTimeoutMs, 10_000));
    this.session = undefined;
    this.transport.clearSession();
  }

  async CurrentTime(): Promise<Date> {
    const r = await this.invoke('CurrentTime', { _this: mo({ type: 'ServiceInstance', value: 'ServiceInstance' }) });
    const d = date(returnValue(r));
    if (!d) throw new TransportError('CurrentTime: no dateTime in the response');
    return d;
  }

  async CreateContainerView(container: MoRef, types: readonly string[], recursive: boolean): Promise<MoRef> {
    const r = await this.invoke('CreateContainerView', { _this: mo(this.need(this.sc.viewManager, 'viewManager')), container: mo(container), type: [...types], recursive });
    return this.morefResult('CreateContainerView', r);
  }

  async DestroyView(view: MoRef): Promise<void> {
    await this.invoke('DestroyView', { _this: mo(view) });
  }

  async CreatePropertyCollector(): Promise<MoRef> {
    const r = await this.invoke('CreatePropertyCollector', { _this: mo(this.sc.propertyCollector) });
    return this.morefResult('CreatePropertyCollector', r);
  }

  async DestroyPropertyCollector(collector: MoRef): Promise<void> {
    await this.invoke('DestroyPropertyCollector', { _this: mo(collector) });
  }

  async CreateFilter(collector: MoRef, spec: Record<string, unknown>, partialUpdates = false): Promise<MoRef> {
    const r = await this.invoke('CreateFilter', { _this: mo(collector), spec, partialUpdates });
    return this.morefResult('CreateFilter', r);
  }

  async DestroyPropertyFilter(filter: MoRef): Promise<void> {
    await this.invoke('DestroyPropertyFilter', { _this: mo(filter) });
  }

  /** Raises NotAuthenticated hidden in a missingSet (vcsim answers a stale cookie that way). */
  private static checkMissingAuth(r: XNode): void {
    const res = retrieveResult(returnValues(r));
    for (const o of res.objects) for (const m of o.missing) if (m.fault instanceof NotAuthenticated) throw m.fault;
  }

  async RetrievePropertiesEx(specSet: Record<string, unknown>[], options: { maxObjects?: number } = {}, collector?: MoRef): Promise<RetrieveResult> {
    const opts: Record<string, unknown> = {};
    if (options.maxObjects !== undefined) opts.maxObjects = options.maxObjects;
    const r = await this.invoke('RetrievePropertiesEx', { _this: mo(collector ?? this.sc.propertyCollector), specSet, options: opts }, { check: VsphereClient.checkMissingAuth });
    return retrieveResult(returnValues(r));
  }

  async ContinueRetrievePropertiesEx(token: string, collector?: MoRef): Promise<RetrieveResult> {
    const r = await this.invoke('ContinueRetrievePropertiesEx', { _this: mo(collector ?? this.sc.propertyCollector), token }, { check: VsphereClient.checkMissingAuth });
    return retrieveResult(returnValues(r));
  }

  async WaitForUpdatesEx(collector: MoRef, version: string, options: { maxWaitSeconds?: number; maxObjectUpdates?: number } = {}): Promise<UpdateSet | null> {
    const opts: Record<string, unknown> = {};
    const maxWait = options.maxWaitSeconds === undefined ? undefined : this.maxWaitSeconds(options.maxWaitSeconds);
    if (maxWait !== undefined) opts.maxWaitSeconds = maxWait;
    if (options.maxObjectUpdates !== undefined) opts.maxObjectUpdates = options.maxObjectUpdates;
    const r = await this.invoke('WaitForUpdatesEx', { _this: mo(collector), version, options: opts });
    return updateSet(returnValue(r));
  }

  async CancelWaitForUpdates(collector: MoRef): Promise<void> {
    await this.invoke('CancelWaitForUpdates', { _this: mo(collector) });
  }

  async CreateCollectorForEvents(filter: EventFilter): Promise<MoRef> {
    const r = await this.invoke('CreateCollectorForEvents', { _this: mo(this.need(this.sc.eventManager, 'eventManager')), filter: eventFilterArg(filter) });
    return this.morefResult('CreateCollectorForEvents', r);
  }

  async ReadNextEvents(collector: MoRef, maxCount: number): Promise<VimEvent[]> {
    const r = await this.invoke('ReadNextEvents', { _this: mo(collector), maxCount });
    return returnValues(r).map(vimEvent);
  }

  async DestroyCollector(collector: MoRef): Promise<void> {
    await this.invoke('DestroyCollector', { _this: mo(collector) });
  }

  async GetAlarm(entity?: MoRef): Promise<MoRef[]> {
    const args: Record<string, unknown> = { _this: mo(this.need(this.sc.alarmManager, 'alarmManager')) };
    if (entity) args.entity = mo(entity);
    return morefs(returnValues(await this.invoke('GetAlarm', args)));
  }

  async AcknowledgeAlarm(alarm: MoRef, entity: MoRef): Promise<void> {
    await this.invoke('AcknowledgeAlarm', { _this: mo(this.need(this.sc.alarmManager, 'alarmManager')), alarm: mo(alarm), entity: mo(entity) });
  }

  async HasPrivilegeOnEntities(entities: readonly MoRef[], sessionId: string, privIds: readonly string[]): Promise<EntityPrivilege[]> {
    const r = await this.invoke('HasPrivilegeOnEntities', {
      _this: mo(this.need(this.sc.authorizationManager, 'authorizationManager')),
      entity: entities.map(mo),
      sessionId,
      privId: [...privIds],
    });
    return returnValues(r).map(entityPrivilege).filter((e): e is EntityPrivilege => e !== undefined);
  }

  async ListKmipServers(limit?: number): Promise<KmipClusterInfo[]> {
    const args: Record<string, unknown> = { _this: mo(this.need(this.sc.cryptoManager, 'cryptoManager')) };
    if (limit !== undefined) args.limit = limit;
    return returnValues(await this.invoke('ListKmipServers', args)).map(kmipClusterInfo);
  }

  /** ListKeys on vCenter's CryptoManager, or on a host's CryptoManager when given. */
  async ListKeys(cryptoManager?: MoRef, limit?: number): Promise<CryptoKeyId[]> {
    const args: Record<string, unknown> = { _this: mo(cryptoManager ?? this.need(this.sc.cryptoManager, 'cryptoManager')) };
    if (limit !== undefined) args.limit = limit;
    return cryptoKeyIds(returnValues(await this.invoke('ListKeys', args)));
  }

  async QueryCryptoKeyStatus(keys: readonly CryptoKeyId[], checkKeyBitMap: number): Promise<CryptoKeyStatus[]> {
    const r = await this.invoke('QueryCryptoKeyStatus', {
      _this: mo(this.need(this.sc.cryptoManager, 'cryptoManager')),
      keyIds: keys.map(cryptoKeyIdArg),
      checkKeyBitMap,
    });
    return returnValues(r).map(cryptoKeyStatus).filter((s): s is CryptoKeyStatus => s !== undefined);
  }

  async IsKmsClusterActive(cluster?: KeyProviderId): Promise<boolean> {
    const args: Record<string, unknown> = { _this: mo(this.need(this.sc.cryptoManager, 'cryptoManager')) };
    if (cluster) args.cluster = { id: cluster.id };
    return bool(returnValue(await this.invoke('IsKmsClusterActive', args))) ?? false;
  }

  async RetrieveKmipServersStatus_Task(clusters?: readonly KmipClusterInfo[]): Promise<MoRef> {
    const args: Record<string, unknown> = { _this: mo(this.need(this.sc.cryptoManager, 'cryptoManager')) };
    if (clusters?.length) args.clusters = clusters.map(kmipClusterArg);
    return this.morefResult('RetrieveKmipServersStatus_Task', await this.invoke('RetrieveKmipServersStatus_Task', args));
  }

  async CryptoUnlock_Task(vm: MoRef): Promise<MoRef> {
    return this.morefResult('CryptoUnlock_Task', await this.invoke('CryptoUnlock_Task', { _this: mo(vm) }));
  }

  async ReconfigVM_Task(vm: MoRef, spec: Record<string, unknown>): Promise<MoRef> {
    return this.morefResult('ReconfigVM_Task', await this.invoke('ReconfigVM_Task', { _this: mo(vm), spec }));
  }

  async PowerOnVM_Task(vm: MoRef, host?: MoRef): Promise<MoRef> {
    const args: Record<string, unknown> = { _this: mo(vm) };
    if (host) args.host = mo(host);
    return this.morefResult('PowerOnVM_Task', await this.invoke('PowerOnVM_Task', args));
  }

  async reloadVirtualMachineFromPath_Task(vm: MoRef, configurationPath: string): Promise<MoRef> {
    return this.morefResult('reloadVirtualMachineFromPath_Task', await this.invoke('reloadVirtualMachineFromPath_Task', { _this: mo(vm), configurationPath }));
  }

  private morefResult(method: string, r: XNode): MoRef {
    const ref = moref(returnValue(r));
    if (!ref) throw new TransportError(`${method}: response has no managed object reference`);
    return ref;
  }

  // ------------------------------------------------------- filters and reads

  async createTaskFilter(collector: MoRef, target: { taskManager: MoRef } | { task: MoRef }): Promise<MoRef> {
    const objectSet = 'taskManager' in target ? [recentTaskObjectSpec(target.taskManager)] : [{ obj: mo(target.task), skip: false }];
    return this.CreateFilter(collector, filterSpec([propertySpec('Task', TASK_PATHS)], objectSet), false);
  }

  async createViewFilter(collector: MoRef, view: MoRef, type: string, paths: readonly string[]): Promise<MoRef> {
    return this.CreateFilter(collector, filterSpec([propertySpec(type, paths)], [containerViewObjectSpec(view)]), false);
  }

  async createObjectFilter(collector: MoRef, obj: MoRef, paths: readonly string[]): Promise<MoRef> {
    return this.CreateFilter(collector, filterSpec([propertySpec(obj.type, paths)], [{ obj: mo(obj), skip: false }]), false);
  }

  /** RetrievePropertiesEx with every page followed (ContinueRetrievePropertiesEx). */
  async retrieveAll(propSet: PropertySpecArg[], objectSet: Record<string, unknown>[], options: { maxObjects?: number; reportMissing?: boolean } = {}): Promise<ObjectContent[]> {
    let page = await this.RetrievePropertiesEx([filterSpec(propSet, objectSet, options.reportMissing)], { maxObjects: options.maxObjects ?? this.opts.pageSize ?? 1000 });
    const out = [...page.objects];
    while (page.token) {
      page = await this.ContinueRetrievePropertiesEx(page.token);
      out.push(...page.objects);
    }
    return out;
  }

  /**
   * Reads properties of the given objects in one call. An object that no longer
   * exists is dropped and the read repeated without it (once per missing object),
   * so the rest still comes back.
   */
  async retrieveObjects(type: string, objs: readonly MoRef[], paths: readonly string[]): Promise<Map<string, ObjectContent>> {
    const out = new Map<string, ObjectContent>();
    let remaining = [...objs];
    for (let attempt = 0; remaining.length > 0 && attempt <= objs.length; attempt++) {
      try {
        const contents = await this.retrieveAll([propertySpec(type, paths)], remaining.map((o) => ({ obj: mo(o), skip: false })), { reportMissing: true, maxObjects: 100 });
        for (const c of contents) out.set(c.obj.value, c);
        return out;
      } catch (err) {
        const gone = err instanceof ManagedObjectNotFound ? err.obj : undefined;
        if (!gone || !remaining.some((o) => o.value === gone.value)) throw err;
        remaining = remaining.filter((o) => o.value !== gone.value);
      }
    }
    return out;
  }

  private vmContainerView(): Promise<MoRef> {
    this.vmView ??= this.CreateContainerView(this.sc.rootFolder, ['VirtualMachine'], true).catch((err: unknown) => {
      this.vmView = undefined;
      throw err;
    });
    return this.vmView;
  }

  // ----------------------------------------------------------- VsphereApi

  async connect(): Promise<void> {
    this.content = await this.RetrieveServiceContent();
    await this.Login(this.opts.user, this.opts.password);
    this.startKeepAlive();
    this.logger?.debug({ vcenter: this.name, url: redactUrl(this.opts.url), apiVersion: this.content.about.apiVersion }, 'connected to vCenter');
  }

  /** Like govmomi's keepalive handler: an idle session would expire (30 min by default on vCenter). */
  private startKeepAlive(): void {
    const every = this.opts.keepAliveMs ?? 10 * 60_000;
    if (every <= 0 || this.keepAliveTimer) return;
    this.keepAliveTimer = setInterval(() => {
      if (this.closed || Date.now() - this.lastCallAt < every) return;
      this.CurrentTime().catch((err: unknown) => this.logger?.debug({ vcenter: this.name, err: (err as Error).message }, 'keepalive CurrentTime failed'));
    }, Math.max(1000, Math.floor(every / 4)));
    this.keepAliveTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.taskWaiter.close();
    if (this.session && this.content) {
      try {
        await this.Logout();
      } catch (err) {
        this.logger?.debug({ vcenter: this.name, err: (err as Error).message }, 'Logout failed (ignored on close)');
      }
    }
    this.closed = true;
    this.transport.close();
  }

  onSessionRenewed(listener: () => void): () => void {
    this.renewListeners.add(listener);
    return () => this.renewListeners.delete(listener);
  }

  async listVmStates(): Promise<VmStateSummary[]> {
    const read = async () => {
      const view = await this.vmContainerView();
      return this.retrieveAll([propertySpec('VirtualMachine', VM_STATE_PATHS)], [containerViewObjectSpec(view)]);
    };
    let contents: ObjectContent[];
    try {
      contents = await read();
    } catch (err) {
      // The cached view vanished (destroyed elsewhere, vCenter restarted): make a new one once.
      if (!(err instanceof ManagedObjectNotFound)) throw err;
      this.vmView = undefined;
      contents = await read();
    }
    return contents.map((c) => vmStateSummary(c.obj, c.props));
  }

  async getVmCryptoSnapshots(vms: readonly MoRef[]): Promise<Map<string, VmCryptoSnapshot | null>> {
    const out = new Map<string, VmCryptoSnapshot | null>();
    if (vms.length === 0) return out;
    const found = await this.retrieveObjects('VirtualMachine', vms, VM_SNAPSHOT_PATHS);
    for (const vm of vms) {
      const c = found.get(vm.value);
      const snap = c && !c.missing.some((m) => m.fault instanceof ManagedObjectNotFound) ? vmCryptoSnapshot(c.obj, c.props) : null;
      out.set(vm.value, snap);
      if (snap) this.rememberDisks(vm.value, snap.disks);
    }
    return out;
  }

  async getHostCrypto(hosts: readonly MoRef[]): Promise<Map<string, HostCryptoInfo | null>> {
    const out = new Map<string, HostCryptoInfo | null>();
    if (hosts.length === 0) return out;
    const found = await this.retrieveObjects('HostSystem', hosts, HOST_CRYPTO_PATHS);
    for (const h of hosts) {
      const c = found.get(h.value);
      out.set(h.value, c ? hostCryptoInfo(c.obj, c.props) : null);
    }
    return out;
  }

  private rememberDisks(vm: string, disks: VirtualDiskInfo[]): void {
    this.recentDisks.delete(vm);
    this.recentDisks.set(vm, { at: Date.now(), disks });
    if (this.recentDisks.size > RECENT_DISKS_MAX) this.recentDisks.delete(this.recentDisks.keys().next().value as string);
  }

  listHostKeys(hostCryptoManager: MoRef): Promise<CryptoKeyId[]> {
    return this.ListKeys(hostCryptoManager);
  }

  listKeys(): Promise<CryptoKeyId[]> {
    return this.ListKeys();
  }

  queryCryptoKeyStatus(keys: readonly CryptoKeyId[], checkKeyBitMap: number): Promise<CryptoKeyStatus[]> {
    return this.QueryCryptoKeyStatus(keys, checkKeyBitMap);
  }

  listKmipServers(): Promise<KmipClusterInfo[]> {
    return this.ListKmipServers();
  }

  isKmsClusterActive(provider?: KeyProviderId): Promise<boolean> {
    return this.IsKmsClusterActive(provider);
  }

  async retrieveKmipServersStatus(clusters?: readonly KmipClusterInfo[]): Promise<KmipClusterStatus[]> {
    const task = await this.RetrieveKmipServersStatus_Task(clusters);
    const info = await this.waitForTask(task, { timeoutMs: this.callTimeoutMs });
    return arr(info.result).map((r) => kmipClusterStatus(r as Decoded));
  }

  hasPrivilegeOnEntities(entities: readonly MoRef[], privIds: readonly string[]): Promise<EntityPrivilege[]> {
    const key = this.sessionKey;
    if (!key) return Promise.reject(NOT_CONNECTED(this.name));
    return this.HasPrivilegeOnEntities(entities, key, privIds);
  }

  async getAlarms(entity?: MoRef): Promise<AlarmDefinition[]> {
    const alarms = await this.GetAlarm(entity);
    if (alarms.length === 0) return [];
    const found = await this.retrieveObjects('Alarm', alarms, ['info']);
    const out: AlarmDefinition[] = [];
    for (const a of alarms) {
      const info = found.get(a.value)?.props.get('info');
      if (!isObj(info)) continue;
      const def: AlarmDefinition = { moref: a, name: str(info.name) ?? '', eventTypeIds: alarmEventTypeIds(info.expression), enabled: bool(info.enabled) ?? true };
      const systemName = str(info.systemName);
      if (systemName) def.systemName = systemName;
      out.push(def);
    }
    return out;
  }

  acknowledgeAlarm(alarm: MoRef, entity: MoRef): Promise<void> {
    return this.AcknowledgeAlarm(alarm, entity);
  }

  currentTime(): Promise<Date> {
    return this.CurrentTime();
  }

  async createEventCollector(filter: EventFilter): Promise<EventCollector> {
    const ref = await this.CreateCollectorForEvents(filter);
    let destroyed = false;
    return {
      moref: ref,
      readNext: (maxCount: number) => this.ReadNextEvents(ref, maxCount),
      destroy: async () => {
        if (destroyed) return;
        destroyed = true;
        await this.DestroyCollector(ref);
      },
    };
  }

  cryptoUnlock(vm: MoRef): Promise<MoRef> {
    return this.CryptoUnlock_Task(vm);
  }

  /**
   * ReconfigVM_Task removing the disk, never with a fileOperation (the .vmdk
   * stays). Pass the disk as read in the VM's snapshot to send its full
   * device; otherwise the disk from a snapshot read in the last 10 minutes
   * is used, and failing that it is read first (one extra call).
   */
  async detachDisk(vm: MoRef, deviceKey: number, disk?: DiskToRemove): Promise<MoRef> {
    let toRemove = disk?.key === deviceKey ? disk : undefined;
    const recent = this.recentDisks.get(vm.value);
    if (!toRemove && recent && Date.now() - recent.at < RECENT_DISKS_TTL_MS) toRemove = recent.disks.find((d) => d.key === deviceKey);
    if (!toRemove) {
      const snap = (await this.getVmCryptoSnapshots([vm])).get(vm.value);
      if (!snap) throw new ManagedObjectNotFound('ManagedObjectNotFound', `VM ${vm.value} no longer exists`, { obj: vm });
      const found = snap.disks.find((d) => d.key === deviceKey);
      if (!found) throw new VimFault('InvalidDeviceSpec', `VM ${vm.value} has no virtual disk with device key ${deviceKey}`, { deviceKey });
      toRemove = found;
    }
    return this.ReconfigVM_Task(vm, removeDiskSpec(toRemove));
  }

  powerOn(vm: MoRef): Promise<MoRef> {
    return this.PowerOnVM_Task(vm);
  }

  reloadFromPath(vm: MoRef, configurationPath: string): Promise<MoRef> {
    return this.reloadVirtualMachineFromPath_Task(vm, configurationPath);
  }

  waitForTask(task: MoRef, options?: WaitOptions): Promise<TaskInfo> {
    if (!this.content) return Promise.reject(NOT_CONNECTED(this.name));
    return this.taskWaiter.wait(task, options);
  }

  shareTaskCompletions(feed: TaskCompletionFeed): void {
    this.taskWaiter.attachFeed(feed);
  }

  watchObjects(
    spec: { type: string; paths: readonly string[]; alsoWatch?: readonly { obj: MoRef; paths: readonly string[] }[] },
    onUpdate: (updates: ObjectUpdate[], meta: { initial: boolean; version: string }) => void | Promise<void>,
    options: { signal: AbortSignal; maxWaitSeconds: number; maxObjectUpdates?: number },
  ): Promise<void> {
    const sc = this.serviceContent;
    return runWatch(
      {
        rootFolder: sc.rootFolder,
        CreateContainerView: (c, t, r) => this.CreateContainerView(c, t, r),
        DestroyView: (v) => this.DestroyView(v),
        CreatePropertyCollector: () => this.CreatePropertyCollector(),
        DestroyPropertyCollector: (c) => this.DestroyPropertyCollector(c),
        createViewFilter: (c, v, t, p) => this.createViewFilter(c, v, t, p),
        createObjectFilter: (c, o, p) => this.createObjectFilter(c, o, p),
        DestroyPropertyFilter: (f) => this.DestroyPropertyFilter(f),
        waitForUpdates: (c, v, w, m) => this.WaitForUpdatesEx(c, v, { maxWaitSeconds: w, ...(m !== undefined ? { maxObjectUpdates: m } : {}) }),
        CancelWaitForUpdates: (c) => this.CancelWaitForUpdates(c),
      },
      spec,
      onUpdate,
      { ...options, maxWaitSeconds: this.maxWaitSeconds(options.maxWaitSeconds) },
      this.logger,
    );
  }
}

/** Builds a client from a config entry; the password comes from its one configured source and is never logged. */
export function createClientFromConfig(vc: VcenterConfig, logger?: Logger, extra: Pick<VsphereClientOptions, 'onCall' | 'pageSize'> = {}): VsphereClient {
  return new VsphereClient({
    name: vc.name,
    url: vc.url,
    user: vc.user,
    password: resolvePassword(vc),
    tls: { caFile: vc.tls.caFile, thumbprint: vc.tls.thumbprint, insecure: vc.tls.insecure },
    callTimeoutMs: vc.callTimeout,
    apiVersion: vc.apiVersion,
    logger,
    ...extra,
  });
}

