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
  VmCryptoSnapshot,
  VmStateSummary,
} from './types.ts';
import type { TaskCompletionFeed, WaitOptions } from './task-waiter.ts';

/**
 * What the poller, the workers and the CLI need from one vCenter. VsphereClient
 * (client.ts) implements it over SOAP; every method may throw a VimFault
 * subclass (faults.ts) or a TransportError. There is deliberately no removeKey(s)
 * and no `force` anywhere in this interface.
 */
export interface VsphereApi {
  /** The vCenter's configured name. */
  readonly name: string;
  readonly serviceContent: ServiceContent;
  /** Session key of the current login (for HasPrivilegeOnEntities). */
  readonly sessionKey: string | undefined;

  /** RetrieveServiceContent + Login. */
  connect(): Promise<void>;
  /** Logout and release agents. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Called after the client logged in again (session expired, vCenter restarted):
   * filters, collectors, views and versions of the old session are gone.
   */
  onSessionRenewed(listener: () => void): () => void;

  /** Every VM's crypto summary via a ContainerView, paged with maxObjects. */
  listVmStates(): Promise<VmStateSummary[]>;
  /** Full crypto snapshots of the given VMs in one RetrievePropertiesEx; a VM that no longer exists maps to null. */
  getVmCryptoSnapshots(vms: readonly MoRef[]): Promise<Map<string, VmCryptoSnapshot | null>>;
  getHostCrypto(hosts: readonly MoRef[]): Promise<Map<string, HostCryptoInfo | null>>;
  /** ListKeys on a host's CryptoManager: the keys in that host's key cache. */
  listHostKeys(hostCryptoManager: MoRef): Promise<CryptoKeyId[]>;
  /** ListKeys on vCenter's CryptoManager (keys used by registered VMs and host keys, not the KMS contents). */
  listKeys(): Promise<CryptoKeyId[]>;
  queryCryptoKeyStatus(keys: readonly CryptoKeyId[], checkKeyBitMap: number): Promise<CryptoKeyStatus[]>;
  listKmipServers(): Promise<KmipClusterInfo[]>;
  /** IsKmsClusterActive; the default provider when omitted. */
  isKmsClusterActive(provider?: KeyProviderId): Promise<boolean>;
  /** RetrieveKmipServersStatus_Task, waited for; its result. */
  retrieveKmipServersStatus(clusters?: readonly KmipClusterInfo[]): Promise<KmipClusterStatus[]>;
  hasPrivilegeOnEntities(entities: readonly MoRef[], privIds: readonly string[]): Promise<EntityPrivilege[]>;
  /** Alarms defined on the entity (rootFolder when omitted), with their event type ids. */
  getAlarms(entity?: MoRef): Promise<AlarmDefinition[]>;
  acknowledgeAlarm(alarm: MoRef, entity: MoRef): Promise<void>;
  currentTime(): Promise<Date>;

  /** Creates an EventHistoryCollector; read it page by page; destroy it when done. */
  createEventCollector(filter: EventFilter): Promise<EventCollector>;

  /** Mutating calls. Each returns the Task MoRef; wait with waitForTask. */
  cryptoUnlock(vm: MoRef): Promise<MoRef>;
  /** ReconfigVM_Task removing the disk with this device key, never with a fileOperation. */
  detachDisk(vm: MoRef, deviceKey: number): Promise<MoRef>;
  powerOn(vm: MoRef): Promise<MoRef>;
  /** reloadVirtualMachineFromPath_Task on the VM's own configuration path. */
  reloadFromPath(vm: MoRef, configurationPath: string): Promise<MoRef>;
  /**
   * Waits for a task through the client's shared PropertyCollector (no sleep
   * loops). Resolves with the final TaskInfo on success; rejects with the task's
   * typed fault on error. With `shared`, another process's sighting of the
   * success (see shareTaskCompletions) settles the wait too.
   */
  waitForTask(task: MoRef, options?: WaitOptions): Promise<TaskInfo>;
  /** Optional: exchange task successes with other processes watching this vCenter. */
  shareTaskCompletions?(feed: TaskCompletionFeed): void;

  /**
   * WaitForUpdatesEx on a ContainerView of every object of `type` below rootFolder,
   * on a PropertyCollector of its own. Calls `onUpdate` with each batch; the
   * first batch is the full initial state (kind enter). Ends when the signal aborts
   * (CancelWaitForUpdates, then cleanup) or rejects with the fault that stopped it.
   */
  watchObjects(
    spec: {
      type: string;
      paths: readonly string[];
      /**
       * Optional extra single objects watched by the SAME PropertyCollector (one
       * more ObjectSpec/filter each, no traversal), e.g. an EventHistoryCollector's
       * `latestPage`; their updates arrive in the same batches. The poller uses it
       * so one WaitForUpdatesEx covers both VMs and new events (idle budget). An
       * implementation that ignores it simply never reports those objects; the
       * poller then falls back to reading events on a slow tick.
       */
      alsoWatch?: readonly { obj: MoRef; paths: readonly string[] }[];
    },
    onUpdate: (updates: ObjectUpdate[], meta: { initial: boolean; version: string }) => void | Promise<void>,
    options: { signal: AbortSignal; maxWaitSeconds: number; maxObjectUpdates?: number },
  ): Promise<void>;
}

export interface EventCollector {
  readonly moref: MoRef;
  /** ReadNextEvents; [] when there is nothing newer. Unknown event types are kept, never fail the page. */
  readNext(maxCount: number): Promise<VimEvent[]>;
  destroy(): Promise<void>;
}
