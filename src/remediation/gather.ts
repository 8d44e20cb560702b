import { CheckKey, type CryptoKeyId, type CryptoKeyStatus, type HostCryptoInfo, type MoRef, type VimEvent, type VmCryptoSnapshot } from '../vsphere/types.ts';
import type { VsphereApi } from '../vsphere/api.ts';
import { InvalidArgument, MethodNotFound, NotSupported, isTransient } from '../vsphere/faults.ts';
import { REGISTER_VM_PRIVILEGE, type VmFacts } from '../diagnosis/facts.ts';
import { keyString, requiredKeys } from '../diagnosis/keys.ts';
import { BatchLoader, TtlCache } from './batch-loader.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';

/**
 * Events that change a diagnosis (EventEx ids; see vsphere-api-notes §5). The
 * VMLocked/VMUnlocked events are left out on purpose: the poller already puts
 * them on the incident's timeline as signals, and in a storm there is one per
 * VM, so reading them again for every diagnosis batch would cost each worker
 * a page of a thousand events and change no decision.
 */
export const DIAGNOSIS_EVENT_IDS = ['com.vmware.vc.vm.crypto.DiskchainUsingMixedKeys'];
/** A failed power-on (typed class, or the ids an EventEx form carries): a signal of its own for disk-key problems. */
export const POWER_ON_FAILED_IDS = ['VmFailedToPowerOnEvent', 'vim.event.VmFailedToPowerOnEvent', 'com.vmware.vc.vm.VmFailedToPowerOnEvent'];

export interface GatherOptions {
  /**
   * How long concurrent requests wait to share one call (default 100 ms; while a
   * call is in flight the next batch collects). The first batch after a quiet
   * spell waits only followWindowMs.
   */
  batchWindowMs?: number;
  /**
   * Batch window of key status, host and privilege reads (default 10 ms): they
   * follow a snapshot batch, so its incidents ask for them in the same tick.
   */
  followWindowMs?: number;
  /** Batch window of verification reads after a task (default 250 ms). */
  verifyWindowMs?: number;
  /** How long KMS health, privileges, host state and key statuses are reused. */
  factTtlMs?: number;
  /** How long the recent events that change a diagnosis (one read for all VMs) are reused. */
  eventTtlMs?: number;
  /** How far back events are read. */
  eventWindowMs?: number;
}

const vmRef = (value: string): MoRef => ({ type: 'VirtualMachine', value });

/**
 * Reads the facts diagnosis needs for many VMs of ONE vCenter with few calls:
 * snapshots, key statuses and host states are batched across concurrent
 * incidents (a few ms window); KMS health, privileges per folder, host state,
 * key statuses and recent events are reused for a few seconds. Per incident in
 * a storm this costs a fraction of a call for each kind of fact.
 */
export class FactGatherer {
  readonly #api: VsphereApi;
  readonly #log: Logger;
  readonly #snapshots: BatchLoader<string, VmCryptoSnapshot | null>;
  readonly #verifyReads: BatchLoader<string, VmCryptoSnapshot | null>;
  readonly #keyStatus: BatchLoader<CryptoKeyId, CryptoKeyStatus | undefined>;
  readonly #hosts: BatchLoader<string, HostCryptoInfo | null>;
  readonly #privileges: BatchLoader<string, boolean | undefined>;
  readonly #keyCache: TtlCache<CryptoKeyStatus | undefined>;
  readonly #hostCache: TtlCache<HostCryptoInfo | null>;
  readonly #privCache: TtlCache<boolean | undefined>;
  readonly #kmsCache: TtlCache<boolean | undefined>;
  readonly #eventCache: TtlCache<VimEvent[]>;
  readonly #eventWindowMs: number;
  readonly #lastRead = new Map<string, { at: number; snapshot: VmCryptoSnapshot | null }>();
  /** Set once vCenter answered that it has no QueryCryptoKeyStatus (before 6.7 U2); not asked again. */
  #keyStatusUnavailable = false;
  static readonly KEY_BITS = CheckKey.available | CheckKey.usedByVms;

  constructor(api: VsphereApi, logger: Logger, opts: GatherOptions = {}) {
    this.#api = api;
    this.#log = logger;
    const windowMs = opts.batchWindowMs ?? 100;
    const followWindowMs = opts.followWindowMs ?? 10;
    const ttl = opts.factTtlMs ?? 5_000;
    this.#eventWindowMs = opts.eventWindowMs ?? 3_600_000;
    this.#snapshots = new BatchLoader(
      async (ids) => {
        const m = await api.getVmCryptoSnapshots(ids.map(vmRef));
        return new Map([...ids].map((id) => [id, m.get(id) ?? null]));
      },
      (id) => id,
      { windowMs, firstWindowMs: followWindowMs, maxBatch: 200, missing: () => null },
    );
    // Verification reads follow tasks that end one by one: a longer window lets them share calls.
    this.#verifyReads = new BatchLoader(
      async (ids) => {
        const m = await api.getVmCryptoSnapshots(ids.map(vmRef));
        return new Map([...ids].map((id) => [id, m.get(id) ?? null]));
      },
      (id) => id,
      { windowMs: opts.verifyWindowMs ?? 250, maxBatch: 200, missing: () => null },
    );
    this.#keyStatus = new BatchLoader(
      async (keys) => {
        const statuses = await api.queryCryptoKeyStatus(keys, FactGatherer.KEY_BITS);
        const out = new Map<string, CryptoKeyStatus | undefined>();
        for (const s of statuses) out.set(keyString(s.keyId), s);
        // vCenter may echo a key with a provider the request did not name.
        for (const k of keys) if (!out.has(keyString(k))) out.set(keyString(k), statuses.find((s) => s.keyId.keyId === k.keyId));
        return out;
      },
      keyString,
      { windowMs: followWindowMs, maxBatch: 500, missing: () => undefined },
    );
    this.#hosts = new BatchLoader(
      async (ids) => {
        const m = await api.getHostCrypto(ids.map((value) => ({ type: 'HostSystem', value })));
        return new Map(ids.map((id) => [id, m.get(id) ?? null]));
      },
      (id) => id,
      { windowMs: followWindowMs, maxBatch: 200, missing: () => null },
    );
    this.#privileges = new BatchLoader(
      async (folders) => {
        const res = await api.hasPrivilegeOnEntities(
          folders.map((value) => ({ type: 'Folder', value })),
          [REGISTER_VM_PRIVILEGE],
        );
        const out = new Map<string, boolean | undefined>();
        for (const ep of res) out.set(ep.entity.value, ep.privAvailability.find((p) => p.privId === REGISTER_VM_PRIVILEGE)?.isGranted);
        return out;
      },
      (id) => id,
      { windowMs: followWindowMs, maxBatch: 100, missing: () => undefined },
    );
    this.#keyCache = new TtlCache(ttl);
    this.#hostCache = new TtlCache(ttl);
    this.#privCache = new TtlCache(ttl);
    this.#kmsCache = new TtlCache(ttl);
    this.#eventCache = new TtlCache(opts.eventTtlMs ?? 10_000);
  }

  /**
   * One VM's snapshot, batched with concurrent reads. Fresh by default (for
   * verification after an action: `verify` batches with a longer window, since
   * the task's semaphore slot is already free then); with maxAgeMs, this process's last read is
   * reused when it is that recent and nothing was changed since (forgetVm).
   */
  async readVm(moref: string, opts: { maxAgeMs?: number; verify?: boolean } = {}): Promise<VmCryptoSnapshot | null> {
    const last = this.#lastRead.get(moref);
    if (opts.maxAgeMs !== undefined && last && Date.now() - last.at <= opts.maxAgeMs) return last.snapshot;
    const at = Date.now();
    const snapshot = await (opts.verify ? this.#verifyReads : this.#snapshots).get(moref);
    this.#lastRead.set(moref, { at, snapshot });
    if (this.#lastRead.size > 10_000) this.#lastRead.delete(this.#lastRead.keys().next().value as string);
    return snapshot;
  }

  /** Drops the remembered read of a VM (after changing it). */
  forgetVm(moref: string): void {
    this.#lastRead.delete(moref);
  }

  /** Forget the cached key statuses (e.g. before re-diagnosing after a KMS wait). */
  forgetKeys(keys: readonly CryptoKeyId[]): void {
    for (const k of keys) this.#keyCache.delete(keyString(k));
  }

  /** fresh: do not reuse cached key statuses and KMS health (re-diagnosis after a KMS wait). */
  async gather(moref: string, signalKind?: string, opts: { fresh?: boolean } = {}): Promise<VmFacts> {
    // The event read needs nothing from the snapshot: run both at once (its failure is seen below).
    const recentEvents = this.#recentEvents();
    recentEvents.catch(() => undefined);
    const snapshot = await this.readVm(moref);
    const facts: VmFacts = {
      vcenter: this.#api.name,
      vm: vmRef(moref),
      gatheredAt: new Date().toISOString(),
      snapshot,
      keyStatuses: [],
      keyStatusBits: FactGatherer.KEY_BITS,
      kmsActive: {},
      host: undefined,
      canRegisterVm: undefined,
      events: [],
    };
    if (signalKind !== undefined) facts.signalKind = signalKind;
    if (!snapshot) return facts;

    const keys = requiredKeys(snapshot).map((r) => r.key);
    const providers = [...new Set(keys.map((k) => k.providerId?.id).filter((p): p is string => p !== undefined))];
    if (opts.fresh) {
      for (const k of keys) this.#keyCache.delete(keyString(k));
      for (const p of providers) this.#kmsCache.delete(p);
    }
    const hostId = snapshot.host?.value;
    const folderId = snapshot.parent?.value;
    const [statuses, host, canRegisterVm, kms, events] = await Promise.all([
      this.#keyStatuses(keys),
      hostId ? this.#hostCache.get(hostId, () => this.#hosts.get(hostId)) : Promise.resolve(undefined),
      folderId ? this.#privCache.get(folderId, () => this.#privileges.get(folderId)) : Promise.resolve(undefined),
      Promise.all(providers.map(async (p) => [p, await this.#kmsCache.get(p, () => this.#kmsActive(p))] as const)),
      recentEvents,
    ]);
    if (statuses === undefined) facts.keyStatusUnavailable = true;
    else facts.keyStatuses = statuses.filter((s): s is CryptoKeyStatus => s !== undefined);
    facts.host = host;
    facts.canRegisterVm = canRegisterVm;
    for (const [p, active] of kms) if (active !== undefined) facts.kmsActive[p] = active;
    facts.events = events.filter((e) => e.vm?.vm.value === moref || (e.objectType === 'VirtualMachine' && e.objectId === moref));
    // A recent failed power-on of this VM counts as that signal, whatever opened the incident.
    if (facts.events.some((e) => POWER_ON_FAILED_IDS.includes(e.eventTypeId ?? '') || POWER_ON_FAILED_IDS.includes(e.type))) facts.signalKind = 'powerOnFailure';
    return facts;
  }

  /** Key statuses (batched, cached); undefined when vCenter has no QueryCryptoKeyStatus (before 6.7 U2). */
  async #keyStatuses(keys: readonly CryptoKeyId[]): Promise<(CryptoKeyStatus | undefined)[] | undefined> {
    if (this.#keyStatusUnavailable) return undefined;
    try {
      return await Promise.all(keys.map((k) => this.#keyCache.get(keyString(k), () => this.#keyStatus.get(k))));
    } catch (err) {
      if (!(err instanceof MethodNotFound || err instanceof NotSupported)) throw err;
      if (!this.#keyStatusUnavailable) this.#log.warn({ err: errorMessage(err) }, 'vCenter has no QueryCryptoKeyStatus (before 6.7 U2): diagnosing without key statuses');
      this.#keyStatusUnavailable = true;
      return undefined;
    }
  }

  /** IsKmsClusterActive; undefined where vCenter cannot tell (before 7.0). */
  async #kmsActive(provider: string): Promise<boolean | undefined> {
    try {
      return await this.#api.isKmsClusterActive({ id: provider });
    } catch (err) {
      if (err instanceof MethodNotFound || err instanceof NotSupported) return undefined;
      if (err instanceof InvalidArgument) return false; // the provider is not configured
      throw err;
    }
  }

  /** One event read for all VMs of the vCenter, reused for a few seconds. Informative only: a failure yields none. */
  #recentEvents(): Promise<VimEvent[]> {
    return this.#eventCache.get('crypto', async () => {
      let collector;
      try {
        collector = await this.#api.createEventCollector({ eventTypeId: [...DIAGNOSIS_EVENT_IDS, ...POWER_ON_FAILED_IDS], beginTime: new Date(Date.now() - this.#eventWindowMs) });
        return await collector.readNext(1000);
      } catch (err) {
        if (isTransient(err)) throw err;
        this.#log.warn({ err: errorMessage(err) }, 'cannot read recent events (failed power-ons, mixed-key disk chains); diagnosing without them');
        return [];
      } finally {
        await collector?.destroy().catch(() => undefined);
      }
    });
  }
}
