import type { AlarmDefinition, MoRef } from '../vsphere/types.ts';
import { VM_LOCKED_PREFIX } from './event-hints.ts';

/**
 * The locked-VM alarm(s) of one vCenter. Its name is not documented anywhere
 * (vsphere-api-notes.md §5), so nothing is hard-coded: the operator may name it
 * (vcenters[].lockedAlarmName), else every alarm whose EventAlarmExpression
 * fires on a com.vmware.vc.vm.Crypto.VMLocked* event counts.
 */
export function pickLockedAlarms(alarms: readonly AlarmDefinition[], configuredName?: string): MoRef[] {
  if (configuredName !== undefined) return alarms.filter((a) => a.name === configuredName).map((a) => a.moref);
  return alarms.filter((a) => a.eventTypeIds.some((id) => id.startsWith(VM_LOCKED_PREFIX))).map((a) => a.moref);
}
