import type { IncidentJob } from '../incidents/model.ts';

/**
 * The job's progress (IncidentJob.progress), saved before and after each side
 * effect so a restarted worker resumes where the last one stopped.
 *
 * step: new → diagnose → (approval) → act → verify; diagnose again after a KMS wait.
 * done: ids of finished actions ("cryptoUnlock", "detachDisk:2001", ...).
 * tasks: the vCenter Task MoRef value of each started action, by action id; also
 *   `meta:*` entries: meta:initialPower (the VM's power state when first
 *   diagnosed: how policy.powerOn "previous" is known), meta:outcome (the plan's
 *   outcome), meta:kmsWaitSince / meta:kmsWaits, meta:retries.
 */
export type Progress = NonNullable<IncidentJob['progress']>;

export function initialProgress(): Progress {
  return { step: 'new', done: [], tasks: {} };
}

export function meta(p: Progress, name: string): string | undefined {
  return p.tasks[`meta:${name}`];
}

export function setMeta(p: Progress, name: string, value: string | undefined): void {
  if (value === undefined) delete p.tasks[`meta:${name}`];
  else p.tasks[`meta:${name}`] = value;
}

export function taskOf(p: Progress, actionId: string): string | undefined {
  const v = p.tasks[actionId];
  return actionId.startsWith('meta:') ? undefined : v;
}
