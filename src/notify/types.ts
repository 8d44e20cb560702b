import type { Incident, Transition } from '../incidents/model.ts';

/**
 * What the incident workers hand to the outbox: one incident transition.
 * The outbox turns it into a CloudEvent (see event.ts) and queues it.
 */
export interface IncidentNotification {
  transition: Transition;
  /** Snapshot of the incident after the transition. */
  incident: Incident;
  /**
   * Where the event comes from: `vmlock/vcenter/<name>` or the vCenter SDK URL.
   * Any user:password in a URL is removed before it is sent.
   */
  vcenterSource: string;
  /** Tells apart two notifications of one transition of one incident, e.g. the action index. */
  discriminator?: string;
  /** One line for a human. */
  summary: string;
  /** When the transition happened (ISO 8601). */
  at: string;
}

/** info: nothing to do; warning: look soon; critical: a human must act now (page). */
export type Severity = 'info' | 'warning' | 'critical';

/** One action as sent: the incident's ActionRecord, kept as it is. */
export interface NotificationAction {
  kind: string;
  reason: string;
  state: string;
  target?: string;
  task?: string;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  details?: Record<string, unknown>;
  dryRun?: boolean;
}

/** The `data` member of the CloudEvent. */
export interface NotificationData {
  incidentId: string;
  transition: Transition;
  /** Incident state after the transition. */
  state: string;
  vcenter: string;
  vm: { name: string; moref: string };
  summary: string;
  openedAt: string;
  closedAt?: string;
  causes: { code: string; message: string; [k: string]: unknown }[];
  advisories: { code: string; message: string }[];
  actions: NotificationAction[];
  /** What a human must do; always set on `escalated`. */
  humanAction?: string;
  approvedBy?: string;
  discriminator?: string;
}

/** CloudEvents 1.0, structured JSON mode, as published (schemas/notification.schema.json). */
export interface NotificationEvent {
  specversion: '1.0';
  /** Stable per transition; also the AMQP messageId. */
  id: string;
  source: string;
  /** `com.vmlock.incident.<transition>` */
  type: string;
  /** The VM's MoRef value, e.g. vm-42 (unique within the source vCenter). */
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** CloudEvents extension attribute; also the AMQP `severity` header. */
  severity: Severity;
  data: NotificationData;
}

/** The BullMQ job payload of the notifications queue. */
export interface NotificationJob {
  event: NotificationEvent;
}

/** Anything that publishes one notification and resolves only once it is safely delivered. */
export interface NotificationSink {
  /** Resolves when the broker confirmed the message; rejects on any failure (the caller retries). */
  publish(event: NotificationEvent, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
