import type { AlarmState, VmStateSummary } from '../vsphere/types.ts';
import type { Signal } from '../incidents/model.ts';

/**
 * Why a VM deserves an incident right now, judged from the few watched
 * properties alone (no events). Pure: the poller calls it on every update and
 * on every reconciliation.
 */
export interface VmCondition {
  kind: Extract<Signal['kind'], 'cryptoState' | 'connectionState' | 'alarm'>;
  detail: string;
  /** When the condition began, when vCenter says so (the alarm's time). */
  since?: Date;
}

/** Alarm statuses that mean "the locked-VM alarm is firing". */
const FIRING = new Set(['red', 'yellow']);

/**
 * Locked VMs first (runtime.cryptoState, or on 6.5 config.keyId set with
 * connectionState invalid), then an unacknowledged firing locked-VM alarm
 * (which may be stale: the worker tells that apart, the poller only reports it).
 */
export function vmCondition(vm: VmStateSummary, lockedAlarms: ReadonlySet<string>): VmCondition | undefined {
  if (vm.cryptoState === 'locked') return { kind: 'cryptoState', detail: 'runtime.cryptoState=locked' };
  if (vm.cryptoState === undefined && vm.keyId !== undefined && vm.connectionState === 'invalid') {
    return { kind: 'connectionState', detail: 'runtime.connectionState=invalid with config.keyId set (no cryptoState: vSphere 6.5 rule)' };
  }
  const alarm = firingLockedAlarm(vm.triggeredAlarmState, lockedAlarms);
  if (alarm) {
    const cond: VmCondition = { kind: 'alarm', detail: `locked-VM alarm ${alarm.alarm.value} is ${alarm.overallStatus}` };
    if (alarm.time instanceof Date && !Number.isNaN(alarm.time.getTime())) cond.since = alarm.time;
    return cond;
  }
  return undefined;
}

export function firingLockedAlarm(states: readonly AlarmState[], lockedAlarms: ReadonlySet<string>): AlarmState | undefined {
  return states.find((s) => lockedAlarms.has(s.alarm?.value) && FIRING.has(String(s.overallStatus)) && s.acknowledged !== true);
}
