import type { CryptoKeyStatus, HostCryptoInfo, MoRef, VimEvent, VmCryptoSnapshot } from '../vsphere/types.ts';

/**
 * Everything diagnosis looks at for one VM, read from vCenter by the gatherer
 * (src/remediation/gather.ts). Plain data, so diagnosis stays a pure function
 * and the facts can be stored on the incident timeline as they were.
 */
export interface VmFacts {
  vcenter: string;
  vm: MoRef;
  gatheredAt: string;
  /** null: the VM no longer exists. */
  snapshot: VmCryptoSnapshot | null;
  /** QueryCryptoKeyStatus for every key the VM needs (home, disks, parent chains). */
  keyStatuses: CryptoKeyStatus[];
  /**
   * vCenter does not offer QueryCryptoKeyStatus (before 6.7 U2): keyStatuses is
   * empty because it cannot be asked, not because a key has no status.
   */
  keyStatusUnavailable?: boolean;
  /** checkKeyBitMap the statuses were asked with (CheckKey bits). */
  keyStatusBits: number;
  /** IsKmsClusterActive per key provider id; a provider not listed was not checked. */
  kmsActive: Record<string, boolean>;
  /** The VM's host; null when it is gone, undefined when the VM has no host. */
  host: HostCryptoInfo | null | undefined;
  /** Cryptographer.RegisterVM on the VM's folder (for this session); undefined when not checked. */
  canRegisterVm: boolean | undefined;
  /** Recent events of this VM that change a diagnosis (failed power-ons, mixed-key disk chains), newest last. */
  events: VimEvent[];
  /** Datastore type (e.g. "vsan", "VMFS") per datastore moref value, when known. */
  datastoreTypes?: Record<string, string>;
  /** What opened the incident; a power-on failure is a signal of its own. */
  signalKind?: string;
}

export const REGISTER_VM_PRIVILEGE = 'Cryptographer.RegisterVM';
