import type { VsphereApi } from '../vsphere/api.ts';
import type { Config, VcenterConfig } from '../config/schema.ts';
import type { IncidentStore } from '../incidents/store.ts';
import type { HealthRegistry } from '../ops/health.ts';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { isTransient } from '../vsphere/faults.ts';
import { soapCalls, vcenterLastUpdate, vcenterUp } from '../ops/metrics.ts';
import { reconnectDelay, sleep } from './backoff.ts';
import type { VcenterLease, HeldLease } from './lease.ts';
import type { IncidentSink } from './incident-sink.ts';
import type { CheckpointStore } from './checkpoint.ts';
import { WatchSession, type SessionCounters } from './watch-session.ts';

/** What the poller hands the client factory so SOAP calls feed metrics and health. */
export interface ClientHooks {
  onCall: (call: { method: string; durationMs: number; fault?: string }) => void;
}
export type ClientFactory = (vc: VcenterConfig, logger: Logger, hooks: ClientHooks) => Promise<VsphereApi>;

export interface VcenterStatus {
  vcenter: string;
  state: string;
  leased: boolean;
  fencingToken?: number;
  vms: number;
  eventSource: string;
  lastSuccess?: string;
  lastError?: string;
  checkpoint?: { time: string; keys: number };
  counters: SessionCounters;
}

export interface VcenterPollerOptions {
  vc: VcenterConfig;
  config: Config;
  logger: Logger;
  health: HealthRegistry;
  lease: VcenterLease;
  sink: IncidentSink;
  store: IncidentStore;
  checkpoints: CheckpointStore;
  createClient: ClientFactory;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/**
 * Polls one vCenter for as long as this replica holds its lease: connect,
 * run a WatchSession, and on any failure (NotAuthenticated, InvalidCollectorVersion,
 * RequestCanceled, TransportError from a restart or the network, anything
 * else) log, back off with jitter, log in again and start over. It never
 * exits on a vCenter error; only stop() ends it.
 */
export class VcenterPoller {
  readonly #o: VcenterPollerOptions;
  readonly #stop = new AbortController();
  readonly #log: Logger;
  readonly #healthName: string;
  #done: Promise<void> | undefined;
  #state = 'starting';
  #lease: HeldLease | undefined;
  #session: WatchSession | undefined;
  #lastSuccess: Date | undefined;
  #lastError: string | undefined;
  #counters: SessionCounters = { updates: 0, eventsRead: 0, reconciliations: 0, outcomes: {} };

  constructor(o: VcenterPollerOptions) {
    this.#o = o;
    this.#log = o.logger.child({ vcenter: o.vc.name });
    this.#healthName = `vcenter:${o.vc.name}`;
  }

  start(): void {
    this.#done ??= this.#run().catch((err: unknown) => {
      // Not expected: every failure is handled inside; keep the process alive anyway.
      this.#log.error({ err: errorMessage(err) }, 'poller loop ended unexpectedly');
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error('stopping'));
    await this.#done;
  }

  status(): VcenterStatus {
    const s = this.#session;
    const cp = s?.checkpoint;
    const out: VcenterStatus = {
      vcenter: this.#o.vc.name,
      state: this.#state,
      leased: this.#lease !== undefined && !this.#lease.signal.aborted,
      vms: s?.cache.size ?? 0,
      eventSource: s?.eventSource ?? 'pending',
      counters: mergeCounters(this.#counters, s?.counters),
    };
    if (out.leased && this.#lease) out.fencingToken = this.#lease.fencingToken;
    if (this.#lastSuccess) out.lastSuccess = this.#lastSuccess.toISOString();
    if (this.#lastError) out.lastError = this.#lastError;
    if (cp) out.checkpoint = { time: new Date(cp.time).toISOString(), keys: cp.keys.length };
    return out;
  }

  #report(ok: boolean, state: string, detail?: string): void {
    this.#state = state;
    this.#o.health.report(this.#healthName, ok, state, detail);
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      this.#report(true, 'acquiring lease');
      const lease = await this.#o.lease.acquire(stop, (why, healthy) => this.#report(healthy, `standby: ${why}`));
      if (!lease) break;
      this.#lease = lease;
      this.#log.info({ fencingToken: lease.fencingToken }, 'lease acquired: polling this vCenter');
      try {
        await this.#pollWhileLeased(lease);
      } finally {
        await lease.release();
        this.#lease = undefined;
      }
    }
    this.#report(true, 'stopped');
  }

  async #pollWhileLeased(lease: HeldLease): Promise<void> {
    const leased = AbortSignal.any([this.#stop.signal, lease.signal]);
    let attempt = 0;
    let client: VsphereApi | undefined;
    let connected = false;
    const closeClient = (): void => {
      // Not awaited: Logout on a dead vCenter would wait for the call timeout.
      client?.close().catch(() => undefined);
      client = undefined;
      connected = false;
    };
    while (!leased.aborted) {
      const cycle = new AbortController();
      const onLeased = (): void => cycle.abort(leased.reason);
      leased.addEventListener('abort', onLeased, { once: true });
      let unsubscribe: (() => void) | undefined;
      let renewed = false;
      try {
        this.#report(false, attempt ? 'reconnecting' : 'connecting');
        // The base logger: the client adds its own vcenter binding.
        client ??= await this.#o.createClient(this.#o.vc, this.#o.logger, { onCall: (c) => this.#onCall(c) });
        if (!connected) {
          await client.connect();
          connected = true;
        }
        unsubscribe = client.onSessionRenewed(() => {
          this.#log.warn('vCenter session renewed: rebuilding filters and collectors, then reconciling');
          renewed = true;
          cycle.abort(new Error('session renewed'));
        });
        const session = new WatchSession(
          {
            vc: this.#o.vc,
            config: this.#o.config,
            client,
            sink: this.#o.sink,
            store: this.#o.store,
            checkpoints: this.#o.checkpoints,
            logger: this.#o.logger,
            stillLeased: () => lease.stillHeld(),
            onAlive: (state) => {
              attempt = 0;
              this.#markAlive(state);
            },
          },
          cycle,
        );
        this.#session = session;
        await session.run();
        this.#counters = mergeCounters(this.#counters, session.counters);
      } catch (err) {
        if (this.#session) this.#counters = mergeCounters(this.#counters, this.#session.counters);
        if (leased.aborted) break;
        // The client already logged in again: the old session's objects failing is expected; rebuild now.
        if (renewed) continue;
        attempt++;
        const delay = reconnectDelay(err, attempt, BACKOFF_BASE_MS, BACKOFF_MAX_MS);
        this.#lastError = `${err instanceof Error ? err.name : 'Error'}: ${errorMessage(err)}`;
        const level = isTransient(err) ? 'warn' : 'error';
        this.#log[level]({ err: this.#lastError, attempt, retryInMs: delay }, 'vCenter polling interrupted; logging in again after a pause');
        this.#report(false, 'reconnecting', this.#lastError);
        vcenterUp.set({ vcenter: this.#o.vc.name }, 0);
        closeClient();
        await sleep(delay, leased);
      } finally {
        this.#session = undefined;
        unsubscribe?.();
        leased.removeEventListener('abort', onLeased);
      }
    }
    closeClient();
    if (lease.signal.aborted && !this.#stop.signal.aborted) this.#report(true, 'standby: lease lost');
  }

  #onCall(call: { method: string; durationMs: number; fault?: string }): void {
    const vcenter = this.#o.vc.name;
    soapCalls.inc({ vcenter, method: call.method, fault: call.fault ?? '' });
    if (!call.fault) {
      vcenterUp.set({ vcenter }, 1);
      if (this.#state === 'watching') this.#markAlive('watching');
    }
  }

  #markAlive(state: string): void {
    this.#lastSuccess = new Date();
    vcenterUp.set({ vcenter: this.#o.vc.name }, 1);
    vcenterLastUpdate.set({ vcenter: this.#o.vc.name }, this.#lastSuccess.getTime() / 1000);
    this.#report(true, state);
  }
}

function mergeCounters(a: SessionCounters, b: SessionCounters | undefined): SessionCounters {
  if (!b) return a;
  const outcomes = { ...a.outcomes };
  for (const [k, v] of Object.entries(b.outcomes) as [keyof SessionCounters['outcomes'], number][]) outcomes[k] = (outcomes[k] ?? 0) + v;
  return { updates: a.updates + b.updates, eventsRead: a.eventsRead + b.eventsRead, reconciliations: a.reconciliations + b.reconciliations, outcomes };
}
