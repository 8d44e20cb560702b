import type { Cause } from '../diagnosis/causes.ts';

/**
 * What a human must do for an escalated cause, concretely: who, what, on which
 * object, and the command that finishes the job afterwards.
 */
export function humanActionFor(cause: Cause, vmName: string, vcenter: string): string {
  const then = `then run \`vmlock unlock ${vmName}\``;
  const key = cause.keyId ?? cause.key ?? '(see causes)';
  const provider = cause.provider ?? '(the VM\'s key provider)';
  switch (cause.code) {
    case 'home-key-missing-in-kms':
      return `Restore key ${key} in key provider ${provider} (KMS admin), ${then}`;
    case 'home-key-inactive':
      return `Re-activate (enable) key ${key} in key provider ${provider} (KMS admin), ${then}`;
    case 'boot-disk-key-missing':
      return `Restore key ${key} of boot disk ${cause.fileName ?? ''} in key provider ${provider} (KMS admin); the boot disk is never detached; ${then}`;
    case 'boot-disk-unknown':
      return `Set the boot order of VM ${vmName} so its boot disk is named (or restore the missing disk key(s) in the key provider); vmlock does not detach a disk while the boot disk is unknown; ${then}`;
    case 'nonboot-disk-key-missing':
      return `Restore key ${key} in key provider ${provider} (KMS admin), or detach disk ${cause.fileName ?? ''} (device ${cause.deviceKey ?? '?'}) keeping its file (policy.detachNonBootDisks is off); ${then}`;
    case 'host-not-crypto-safe':
      return `Make host ${String(cause.entity ?? '')} crypto-safe (vSphere admin: configure its host key from the key provider) or move VM ${vmName} to a crypto-safe host, ${then}`;
    case 'missing-privilege':
      return `Grant ${cause.privilege ?? 'the missing privilege'} (Cryptographic operations > Register VM) on folder ${String(cause.entity ?? '(the VM folder)')} to vmlock's service account on vCenter ${vcenter} (vSphere admin), ${then}`;
    case 'key-status-unavailable':
      return `vCenter ${vcenter} cannot report key status (before vSphere 6.7 U2) and re-pushing the keys did not fix VM ${vmName}: check in key provider ${provider} that its keys (home key ${key}) exist and are active (KMS admin), ${then}`;
    case 'kms-unreachable':
      return `Restore the connection from vCenter ${vcenter} to key provider ${provider} (KMS and network admins: KMS up, certificates trusted), ${then}`;
    default:
      if (cause.code.startsWith('unknown-key-reason:')) {
        return `Key ${key} is unavailable for a reason vmlock does not know (${cause.code.slice('unknown-key-reason:'.length)}): check the key in key provider ${provider} and in vSphere Client (KMS admin), ${then}`;
      }
      return `Check VM ${vmName} on vCenter ${vcenter}: ${cause.message}`;
  }
}
