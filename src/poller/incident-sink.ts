import type { Queue } from 'bullmq';
import type { IncidentStore } from '../incidents/store.ts';
import { parseIncidentJob, type IncidentJob, type Signal } from '../incidents/model.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { detectionLatency, incidentsOpened } from '../ops/metrics.ts';

/** BullMQ job name on the incidents queue. */
export const INCIDENT_JOB_NAME = 'incident';

/**
 * How the signal was obtained, which decides how much it is trusted:
 * - level: a state read (reconciliation, the watch's initial snapshot): says
 *   "this VM is locked now", not "it just locked";
 * - edge: the watch saw the VM go from fine to locked;
 * - event: an event (its createdTime is the lock time), already checked
 *   against the VM's watched state by the caller.
 */
export type SignalMode = 'level' | 'edge' | 'event';

export type SubmitOutcome =
  | 'opened'
  | 'joined'
  | 'already-open'
  | 'stale'
  | 'cooldown'
  | 'lease-lost'
  /** The VM's moref cannot make an incident/job id (logged; nothing written). */
  | 'invalid';

/**
 * VM morefs usable in an incident id that is also a BullMQ job id (which
 * refuses ":"); vCenter's own are like "vm-42".
 */
const USABLE_MOREF = /^[A-Za-z0-9_-]{1,80}$/;

export interface SubmitRequest {
  vm: { moref: string; name: string };
  signal: Signal;
  mode: SignalMode;
  /** When the lock happened as far as known: the event's createdTime, else the first observation. */
  lockTime: Date;
  /** Rechecks the vCenter lease just before writing (fencing). */
  stillLeased: () => Promise<boolean>;
}

export interface SinkOptions {
  vcenter: string;
  store: IncidentStore;
  queue: Queue;
  config: Config;
  logger: Logger;
}

/**
 * Turns signals into incidents and jobs. One open incident per (vCenter, VM)
 * through IncidentStore.openOrJoin (atomic); job id = incident id, so adding a
 * job twice is a no-op and a new incident always has a new id.
 *
 * A VM that stays locked after its incident closed is not reopened on every
 * state read: a level signal older than the close is stale, and after an
 * escalated/failed outcome level signals wait `poller.reconcileInterval`
 * (retry pace) so a person has time to act. A new lock (edge or event after
 * the close) opens a new incident at once.
 */
export class IncidentSink {
  readonly #o: SinkOptions;

  constructor(o: SinkOptions) {
    this.#o = o;
  }

  async submit(req: SubmitRequest): Promise<{ outcome: SubmitOutcome; id?: string }> {
    const { store, vcenter } = this.#o;
    const vm = { moref: req.vm.moref, name: req.vm.name.slice(0, 255) };
    const signal: Signal = { ...req.signal, detail: req.signal.detail.slice(0, 500) };
    if (!USABLE_MOREF.test(vm.moref)) {
      this.#o.logger.error({ vcenter, vm: vm.moref.slice(0, 100) }, 'VM moref cannot be used in an incident id (letters, digits, "-" and "_" only, at most 80); signal dropped');
      return { outcome: 'invalid' };
    }
    if (!(await req.stillLeased())) return { outcome: 'lease-lost' };

    const open = await store.findOpen(vcenter, vm.moref);
    if (open && req.mode === 'level') {
      await this.ensureJob(open);
      return { outcome: 'already-open', id: open };
    }
    if (!open) {
      const latest = await store.findLatest(vcenter, vm.moref);
      if (latest?.closedAt) {
        const closedAt = Date.parse(latest.closedAt);
        // The signal describes a time before the last incident ended: handled.
        if (closedAt >= req.lockTime.getTime()) return { outcome: 'stale', id: latest.id };
        const retryAfter = this.#o.config.poller.reconcileInterval;
        if (req.mode === 'level' && latest.state !== 'resolved' && Date.now() - closedAt < retryAfter) {
          return { outcome: 'cooldown', id: latest.id };
        }
      }
    }

    const { id, created } = await store.openOrJoin(vcenter, vm, signal);
    if (!created) {
      await this.ensureJob(id);
      return { outcome: 'joined', id };
    }
    await this.#add({ incidentId: id, vcenter, vm, openedAt: signal.at, signal });
    incidentsOpened.inc({ vcenter, signal: signal.kind });
    detectionLatency.observe({ vcenter }, Math.max(0, Date.now() - req.lockTime.getTime()) / 1000);
    this.#o.logger.info({ vcenter, incidentId: id, vm: vm.moref, signal: signal.kind, detail: signal.detail }, 'incident opened and queued');
    return { outcome: 'opened', id };
  }

  /** Re-adds the job of an open incident when the queue lost it (e.g. emptied). */
  async ensureJob(id: string): Promise<boolean> {
    const job = await this.#o.queue.getJob(id);
    if (job) return false;
    const inc = await this.#o.store.get(id, { timeline: true });
    if (!inc || inc.closedAt) return false;
    const first = inc.timeline.find((t) => t.type === 'signal')?.data as Signal | undefined;
    const signal: Signal = first ?? { kind: 'reconcile', at: inc.openedAt, detail: 're-added: job missing from the queue' };
    await this.#add({ incidentId: id, vcenter: inc.vcenter, vm: inc.vm, openedAt: inc.openedAt, signal });
    this.#o.logger.warn({ vcenter: inc.vcenter, incidentId: id }, 'open incident had no job in the queue; re-added');
    return true;
  }

  async #add(payload: IncidentJob): Promise<void> {
    const data = parseIncidentJob(payload);
    const { worker } = this.#o.config;
    await this.#o.queue.add(INCIDENT_JOB_NAME, data, {
      jobId: data.incidentId,
      attempts: worker.attempts,
      backoff: { type: 'exponential', delay: worker.backoff },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }
}
