import type { Incident, Transition } from '../incidents/model.ts';
import type { Severity } from './types.ts';

/**
 * Severity of each transition, sent as the `severity` header and CloudEvents
 * extension. critical = a human must act now (bind your pager to it):
 * vmlock gave up (`failed`) or must not fix it alone (`escalated`).
 * warning = look soon: a VM is locked, waits for approval, or an action failed
 * (vmlock retries or escalates next, so paging here would page twice).
 * info = progress and good news.
 */
export const SEVERITY_BY_TRANSITION: Readonly<Record<Transition, Severity>> = {
  opened: 'warning',
  diagnosed: 'info',
  'awaiting-approval': 'warning',
  'action-started': 'info',
  'action-succeeded': 'info',
  'action-failed': 'warning',
  resolved: 'info',
  escalated: 'critical',
  failed: 'critical',
};

export function severityOf(transition: Transition): Severity {
  return SEVERITY_BY_TRANSITION[transition];
}

/**
 * Severity of one notification. A dry-run whose plan would have fixed the VM
 * ends `escalated` only so a person reviews the plan: that is info, never a
 * page. A dry-run that escalates for a real cause (no planned actions) keeps
 * the transition's severity.
 */
export function severityFor(transition: Transition, incident: Pick<Incident, 'actions'>): Severity {
  if (transition === 'escalated' && isDryRunPlan(incident)) return 'info';
  return severityOf(transition);
}

export function isDryRunPlan(incident: Pick<Incident, 'actions'>): boolean {
  const actions = incident.actions ?? [];
  return actions.length > 0 && actions.every((a) => a.dryRun === true);
}
