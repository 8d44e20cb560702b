import type { PolicyConfig } from '../config/schema.ts';
import { causeClass, type Cause } from '../diagnosis/causes.ts';
import type { Diagnosis } from '../diagnosis/diagnose.ts';
import type { VmFacts } from '../diagnosis/facts.ts';
import type { MoRef } from '../vsphere/types.ts';
import { humanActionFor } from './human-action.ts';

export type ActionKind = 'cryptoUnlock' | 'detachDisk' | 'powerOn' | 'reload' | 'acknowledgeAlarm';

export interface PlannedAction {
  kind: ActionKind;
  /** Why, in words (recorded on the incident). */
  reason: string;
  /** What it acts on, e.g. "vm-42", "vm-42 disk 2001", "alarm-7". */
  target: string;
  /** Stable id of the step inside the incident (progress.done entries use it). */
  id: string;
  /** detachDisk: the device key, file and key, recorded so the disk can be re-attached later. */
  deviceKey?: number;
  fileName?: string;
  key?: string;
  /** cryptoUnlock: fall back to reload from the VM's own path when the method does not exist (< 6.7). */
  reloadFallback?: { vmPathName: string };
  /** acknowledgeAlarm */
  alarm?: MoRef;
}

export type PlanOutcome =
  /** Run the actions, verify, resolve. */
  | 'remediate'
  /** Nothing to fix: run the (acknowledge) actions, resolve. */
  | 'resolve'
  /** A human must act; no action runs. */
  | 'escalate'
  /** Key provider unreachable: wait with back-off, then re-diagnose. */
  | 'wait-kms';

export interface Plan {
  outcome: PlanOutcome;
  actions: PlannedAction[];
  /** For escalate (and wait-kms, once it times out). */
  humanAction?: string;
  /** Kinds in this plan that policy.requireApproval holds for a person. */
  needsApproval: ActionKind[];
  dryRun: boolean;
  summary: string;
}

export interface PlanContext {
  /**
   * policy.powerOn "previous": the VM is powered on afterwards only if it was on
   * before: it was seen poweredOn when the incident was first diagnosed, or the
   * incident's signal is a failed power-on (someone wanted it running).
   */
  wasPoweredOn: boolean;
}

/** Turns a diagnosis into the actions policy allows, in the order they must run. Pure. */
export function planRemediation(diagnosis: Diagnosis, facts: VmFacts, policy: PolicyConfig, ctx: PlanContext): Plan {
  const vm = facts.snapshot;
  const vmName = vm?.name ?? facts.vm.value;
  const moref = facts.vm.value;
  const dryRun = policy.dryRun;
  const finish = (outcome: PlanOutcome, actions: PlannedAction[], summary: string, humanAction?: string): Plan => {
    const needsApproval = [...new Set(actions.map((a) => a.kind))].filter((k) =>
      policy.requireApproval.includes(k) || (k === 'cryptoUnlock' && actions.some((a) => a.reloadFallback) && policy.requireApproval.includes('reload')),
    );
    const plan: Plan = { outcome, actions, needsApproval, dryRun, summary };
    if (humanAction !== undefined) plan.humanAction = humanAction;
    return plan;
  };

  const causes = diagnosis.causes;
  const detachBlocked = !policy.detachNonBootDisks ? causes.filter((c) => c.code === 'nonboot-disk-key-missing') : [];
  const escalations: Cause[] = [...causes.filter((c) => causeClass(c.code) === 'escalate'), ...detachBlocked];
  if (escalations.length) {
    return finish(
      'escalate',
      [],
      `escalate: ${escalations.map((c) => c.code).join(', ')}`,
      escalations.map((c) => humanActionFor(c, vmName, facts.vcenter)).join('; '),
    );
  }
  const kms = causes.filter((c) => c.code === 'kms-unreachable');
  if (kms.length) {
    return finish('wait-kms', [], `wait for key provider ${kms.map((c) => c.provider).join(', ')}`, kms.map((c) => humanActionFor(c, vmName, facts.vcenter)).join('; '));
  }

  const actions: PlannedAction[] = [];
  const pushKeys = causes.find((c) => c.code === 'keys-missing-on-host' || c.code === 'key-status-unavailable');
  if (pushKeys && vm) {
    const a: PlannedAction = { kind: 'cryptoUnlock', id: 'cryptoUnlock', target: moref, reason: pushKeys.message };
    if (policy.reloadFallback && vm.vmPathName) a.reloadFallback = { vmPathName: vm.vmPathName };
    actions.push(a);
  }
  // Detach after the unlock: vCenter refuses ReconfigVM_Task on a locked VM.
  for (const c of causes.filter((x) => x.code === 'nonboot-disk-key-missing')) {
    actions.push({
      kind: 'detachDisk',
      id: `detachDisk:${c.deviceKey}`,
      target: `${moref} disk ${c.deviceKey}`,
      reason: `${c.message}; detached (file kept) so the VM can power on`,
      deviceKey: c.deviceKey,
      fileName: c.fileName,
      key: c.key,
    });
  }
  const remediating = actions.length > 0;
  const wantsPower = policy.powerOn === 'always' || (policy.powerOn === 'previous' && ctx.wasPoweredOn);
  if (remediating && vm && wantsPower && vm.powerState !== 'poweredOn') {
    actions.push({
      kind: 'powerOn',
      id: 'powerOn',
      target: moref,
      reason: policy.powerOn === 'always' ? 'policy.powerOn is "always"' : 'policy.powerOn is "previous" and the VM was on (or being powered on) before it locked',
    });
  }
  const isStale = causes.some((c) => c.code === 'stale-alarm');
  if (policy.acknowledgeAlarm && vm && (remediating || isStale)) {
    for (const al of vm.triggeredAlarmState.filter((s) => !s.acknowledged && s.entity.value === moref)) {
      actions.push({
        kind: 'acknowledgeAlarm',
        id: `acknowledgeAlarm:${al.alarm.value}`,
        target: al.alarm.value,
        alarm: al.alarm,
        reason: remediating ? 'the VM was fixed; policy.acknowledgeAlarm is on' : 'the VM is not locked any more; policy.acknowledgeAlarm is on',
      });
    }
  }
  if (remediating) return finish('remediate', actions, `remediate: ${actions.map((a) => a.id).join(', ')}`);
  return finish('resolve', actions, `resolve: ${causes.map((c) => c.code).join(', ') || 'nothing to fix'}`);
}
