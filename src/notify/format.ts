import { routingKeyOf } from './event.ts';
import type { NotificationEvent } from './types.ts';

/** One line for people: time, severity, routing key, incident, VM, summary (and the human action, if any). */
export function formatNotificationLine(event: NotificationEvent): string {
  const d = event.data;
  const human = d.humanAction ? ` | action needed: ${d.humanAction.replace(/[\r\n]+/g, ' ')}` : '';
  return `${event.time} ${event.severity.toUpperCase().padEnd(8)} ${routingKeyOf(d.transition).padEnd(25)} ${d.incidentId} ${d.vm.name} (${d.vm.moref}) - ${d.summary}${human}`;
}
