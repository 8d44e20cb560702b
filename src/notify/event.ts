import { TRANSITIONS, type Transition } from '../incidents/model.ts';
import { PayloadError } from '../errors.ts';
import { severityFor } from './severity.ts';
import type { IncidentNotification, NotificationEvent } from './types.ts';

/** CloudEvents `type` prefix; the transition follows. */
export const EVENT_TYPE_PREFIX = 'com.vmlock.incident.';
/** Structured-mode content type of every message (CloudEvents AMQP binding). */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

const discriminatorPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The stable message id: `<incident id>/<transition>[/<discriminator>]`,
 * e.g. `sim.vm-42.1/action-started/0`. The same transition always gets the
 * same id, so consumers drop duplicates by id. ("/" rather than ":" because
 * BullMQ refuses most job ids that contain ":".)
 */
export function messageIdOf(incidentId: string, transition: Transition, discriminator?: string): string {
  return `${incidentId}/${transition}${discriminator ? '/' + discriminator : ''}`;
}

/**
 * BullMQ job id of a message: the message id, with ":" (legal in incident ids,
 * refused by BullMQ) percent-encoded. Equal message ids give equal job ids.
 */
export function jobIdOf(messageId: string): string {
  return messageId.replace(/%/g, '%25').replace(/:/g, '%3A');
}

export function routingKeyOf(transition: Transition): string {
  return `incident.${transition}`;
}

export function eventTypeOf(transition: Transition): string {
  return EVENT_TYPE_PREFIX + transition;
}

export function transitionOfType(type: string): Transition | undefined {
  const t = type.startsWith(EVENT_TYPE_PREFIX) ? type.slice(EVENT_TYPE_PREFIX.length) : '';
  return (TRANSITIONS as readonly string[]).includes(t) ? (t as Transition) : undefined;
}

/** The CloudEvents source: a URL loses its user:password, query and fragment; anything else stays. */
export function sanitizeSource(source: string): string {
  const text = source.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const u = new URL(text);
      u.username = '';
      u.password = '';
      u.search = '';
      u.hash = '';
      return u.toString();
    } catch {
      return text.replace(/\/\/[^@/]*@/, '//');
    }
  }
  return text;
}

/** Builds the CloudEvent of one transition. Throws PayloadError naming what is wrong. */
export function buildNotificationEvent(n: IncidentNotification): NotificationEvent {
  const problems: string[] = [];
  if (!(TRANSITIONS as readonly string[]).includes(n.transition)) problems.push(`transition: "${String(n.transition)}" is not one of ${TRANSITIONS.join(', ')}`);
  if (!n.incident || typeof n.incident.id !== 'string' || !n.incident.id) problems.push('incident.id: missing');
  if (n.discriminator !== undefined && !discriminatorPattern.test(n.discriminator)) problems.push('discriminator: use 1-64 letters, digits, ".", "-" or "_"');
  if (typeof n.vcenterSource !== 'string' || !n.vcenterSource.trim()) problems.push('vcenterSource: missing');
  if (problems.length) throw new PayloadError('incident notification', problems.join('; '));

  const inc = n.incident;
  const id = messageIdOf(inc.id, n.transition, n.discriminator);
  const data: NotificationEvent['data'] = {
    incidentId: inc.id,
    transition: n.transition,
    state: inc.state,
    vcenter: inc.vcenter,
    vm: { name: inc.vm?.name, moref: inc.vm?.moref },
    // One line: a summary with line breaks would break log lines and pagers.
    summary: String(n.summary ?? '').replace(/[\r\n]+/g, ' ').trim() || `${inc.vm?.name || inc.vm?.moref}: ${n.transition}`,
    openedAt: inc.openedAt,
    causes: inc.causes ?? [],
    advisories: inc.advisories ?? [],
    actions: (inc.actions ?? []).map((a) => ({ ...a })),
  };
  if (inc.closedAt) data.closedAt = inc.closedAt;
  if (inc.humanAction) data.humanAction = inc.humanAction;
  if (inc.approvedBy) data.approvedBy = inc.approvedBy;
  if (n.discriminator) data.discriminator = n.discriminator;
  return {
    specversion: '1.0',
    id,
    source: sanitizeSource(n.vcenterSource),
    type: eventTypeOf(n.transition),
    subject: inc.vm?.moref,
    time: n.at,
    datacontenttype: 'application/json',
    severity: severityFor(n.transition, inc),
    data,
  };
}
