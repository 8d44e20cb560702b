import { z } from 'zod';
import { PayloadError } from '../errors.ts';

/**
 * The incident: one locked (or disk-key-blocked) VM on one vCenter, from the
 * first signal to its outcome. There is at most one open incident per
 * (vCenter, VM); a new lock after it closed opens a new one.
 *
 * Incident id: `<vcenter>.<vm moref value>.<seq>`, e.g. `sim.vm-42.1`, where seq
 * counts the incidents of that VM. It is also the BullMQ job id, so a re-added
 * id is always the same incident (never a new lock silently dropped).
 */

/** BullMQ queue names (under the configured Redis prefix). */
export const INCIDENTS_QUEUE = 'incidents';
export const NOTIFICATIONS_QUEUE = 'notifications';

/** Open states first, then the three outcomes. */
export const OPEN_STATES = ['open', 'diagnosing', 'awaiting-approval', 'waiting-kms', 'remediating', 'verifying'] as const;
export const CLOSED_STATES = ['resolved', 'escalated', 'failed'] as const;
export type OpenState = (typeof OPEN_STATES)[number];
export type ClosedState = (typeof CLOSED_STATES)[number];
export type IncidentState = OpenState | ClosedState;

export function isClosed(state: IncidentState): state is ClosedState {
  return (CLOSED_STATES as readonly string[]).includes(state);
}

/** What made the poller (or a person) open or join an incident. */
export const signalSchema = z
  .object({
    kind: z.enum(['cryptoState', 'connectionState', 'alarm', 'event', 'reconcile', 'powerOnFailure', 'manual']),
    at: z.iso.datetime(),
    /** Event type id, alarm name, or the property and its value. */
    detail: z.string().max(500),
    eventKey: z.number().int().optional(),
  })
  .strict();
export type Signal = z.infer<typeof signalSchema>;

export const incidentIdPattern = /^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_:-]{1,80}\.\d{1,9}$/;

export function makeIncidentId(vcenter: string, vmMoref: string, seq: number): string {
  return `${vcenter}.${vmMoref}.${seq}`;
}

/** The BullMQ job payload of the incidents queue. Validated by producer and consumer. */
export const incidentJobSchema = z
  .object({
    incidentId: z.string().regex(incidentIdPattern),
    vcenter: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
    vm: z.object({ moref: z.string().min(1).max(80), name: z.string().max(255) }).strict(),
    openedAt: z.iso.datetime(),
    signal: signalSchema,
    /** Progress of the remediation, saved before and after each side effect. */
    progress: z
      .object({
        step: z.string(),
        done: z.array(z.string()),
        tasks: z.record(z.string(), z.string()),
      })
      .strict()
      .optional(),
  })
  .strict();
export type IncidentJob = z.infer<typeof incidentJobSchema>;

export function parseIncidentJob(data: unknown): IncidentJob {
  const r = incidentJobSchema.safeParse(data);
  if (!r.success) {
    throw new PayloadError('incident job', r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return r.data;
}

/** Notification transitions; routing key `incident.<transition>`. */
export const TRANSITIONS = [
  'opened',
  'diagnosed',
  'awaiting-approval',
  'action-started',
  'action-succeeded',
  'action-failed',
  'resolved',
  'escalated',
  'failed',
] as const;
export type Transition = (typeof TRANSITIONS)[number];

export interface ActionRecord {
  /** cryptoUnlock | detachDisk | powerOn | reload | acknowledgeAlarm */
  kind: string;
  reason: string;
  target?: string;
  task?: string;
  state: 'planned' | 'started' | 'succeeded' | 'failed' | 'skipped';
  startedAt?: string;
  endedAt?: string;
  error?: string;
  /** Detach: the disk file and key, so the disk can be re-attached later. */
  details?: Record<string, unknown>;
  dryRun?: boolean;
}

export interface TimelineEntry {
  at: string;
  /** signal | facts | causes | plan | action | approval | state | note */
  type: string;
  message: string;
  data?: unknown;
}

export interface Incident {
  id: string;
  vcenter: string;
  vm: { moref: string; name: string };
  state: IncidentState;
  openedAt: string;
  closedAt?: string;
  causes: { code: string; message: string; [k: string]: unknown }[];
  advisories: { code: string; message: string }[];
  actions: ActionRecord[];
  /** What a human must do, when escalated. */
  humanAction?: string;
  approvedBy?: string;
  signals: number;
  timeline: TimelineEntry[];
}
