import type { MoRef, VimEvent } from '../vsphere/types.ts';

/**
 * What the poller asks the EventHistoryCollector for, and how it reads each
 * event. Events are hints: a lock hint only counts when the VM's watched state
 * agrees (see vcenter-poller.ts); a power-on failure of an encrypted disk is
 * the one signal that no property shows (the disk-key case never sets
 * `locked`).
 */
export const VM_LOCKED_PREFIX = 'com.vmware.vc.vm.Crypto.VMLocked';

export const LOCK_EVENT_IDS = [
  'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnHost',
  'com.vmware.vc.vm.Crypto.VMLocked.KeyMissingOnKMS',
  'com.vmware.vc.vm.Crypto.VMLocked.KMSClusterError',
  'com.vmware.vc.vm.Crypto.VMLocked.TAKeyMissingOnHost',
  // vCenter's own spelling.
  'com.vmware.vc.vm.Crypto.VMLocked.TAKMSClusterUnavaliable',
] as const;
export const UNLOCK_EVENT_ID = 'com.vmware.vc.vm.Crypto.VMUnlocked';
export const ALARM_STATUS_EVENT = 'AlarmStatusChangedEvent';
/** The typed class, and the ids an EventEx form of it may carry. */
export const POWER_ON_FAILED_IDS = ['VmFailedToPowerOnEvent', 'vim.event.VmFailedToPowerOnEvent', 'com.vmware.vc.vm.VmFailedToPowerOnEvent'] as const;

/** EventFilterSpec.eventTypeId: matches EventEx.eventTypeId or the class name. */
export const WATCHED_EVENT_TYPE_IDS: readonly string[] = [...LOCK_EVENT_IDS, UNLOCK_EVENT_ID, ALARM_STATUS_EVENT, ...POWER_ON_FAILED_IDS];

/** Text in a power-on failure's reason that says "an encryption key was missing". */
const KEY_MISSING_MARKERS = ['msg.disk.encrypted', 'EncryptionKeyRequired', 'msg.hostd.vmState.locked', 'required key was not found'];

export type EventHint =
  | { kind: 'lock'; vm: MoRef; vmName: string; detail: string }
  | { kind: 'unlock'; vm: MoRef; vmName: string; detail: string }
  | { kind: 'alarm'; vm: MoRef; vmName: string; detail: string; firing: boolean }
  /** keyMissing: the reason named a missing key; false when the reason was unreadable or about something else. */
  | { kind: 'powerOnFailure'; vm: MoRef; vmName: string; detail: string; keyMissing: boolean }
  | { kind: 'ignored'; why: string };

/** Reads one event; never throws, whatever its shape. */
export function classifyEvent(ev: VimEvent, lockedAlarms: ReadonlySet<string>): EventHint {
  const id = ev.eventTypeId ?? ev.type;
  if (ev.type === ALARM_STATUS_EVENT) {
    const alarm = ev.alarm?.alarm?.value;
    if (!alarm || !lockedAlarms.has(alarm)) return { kind: 'ignored', why: `alarm ${alarm ?? '(none)'} is not the locked-VM alarm` };
    const target = ev.entity?.entity ?? ev.vm?.vm;
    if (!target || target.type !== 'VirtualMachine') return { kind: 'ignored', why: 'alarm status change not on a VM' };
    const name = ev.entity?.name ?? ev.vm?.name ?? target.value;
    const firing = ev.to === 'red' || ev.to === 'yellow';
    return { kind: 'alarm', vm: target, vmName: name, detail: `${ALARM_STATUS_EVENT} ${alarm} ${ev.from ?? '?'}->${ev.to ?? '?'}`, firing };
  }
  const vm = eventVm(ev);
  if (!vm) return { kind: 'ignored', why: `${id} names no VM` };
  if (id.startsWith(VM_LOCKED_PREFIX)) return { kind: 'lock', ...vm, detail: id };
  if (id === UNLOCK_EVENT_ID) return { kind: 'unlock', ...vm, detail: id };
  if ((POWER_ON_FAILED_IDS as readonly string[]).includes(id) || (POWER_ON_FAILED_IDS as readonly string[]).includes(ev.type)) {
    const reason = reasonText(ev);
    const marker = KEY_MISSING_MARKERS.find((m) => reason.includes(m));
    return { kind: 'powerOnFailure', ...vm, detail: marker ? `${id}: ${marker}` : `${id}`, keyMissing: marker !== undefined };
  }
  return { kind: 'ignored', why: `event type ${id} not watched` };
}

function eventVm(ev: VimEvent): { vm: MoRef; vmName: string } | undefined {
  if (ev.vm?.vm?.value) return { vm: ev.vm.vm, vmName: ev.vm.name ?? ev.vm.vm.value };
  // EventEx forms name their object instead.
  if (ev.objectType === 'VirtualMachine' && ev.objectId) {
    const name = typeof ev.raw.objectName === 'string' ? ev.raw.objectName : ev.objectId;
    return { vm: { type: 'VirtualMachine', value: ev.objectId }, vmName: name };
  }
  return undefined;
}

/** Everything the event says about why, as one string (reason fault, message, arguments). */
function reasonText(ev: VimEvent): string {
  const parts: string[] = [ev.fullFormattedMessage ?? ''];
  for (const key of ['reason', 'fault', 'arguments', 'message']) {
    const v = ev.raw[key];
    if (v === undefined) continue;
    try {
      parts.push(typeof v === 'string' ? v : JSON.stringify(v));
    } catch {
      // A cyclic or exotic value: its text cannot help; keep the rest.
    }
  }
  return parts.join(' ');
}
