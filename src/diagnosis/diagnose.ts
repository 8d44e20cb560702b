import { CheckKey, type CryptoKeyId, type VmCryptoSnapshot } from '../vsphere/types.ts';
import { identifyBootDisk, type BootDiskResult } from './boot-disk.ts';
import { causeClass, type Advisory, type Cause } from './causes.ts';
import { REGISTER_VM_PRIVILEGE, type VmFacts } from './facts.ts';
import { keyString, requiredKeys, sameKey, statusFor, type RequiredKey } from './keys.ts';

/** A disk whose own key or a key in its parent chain is gone from the key provider. */
export interface DiskWithMissingKey {
  deviceKey: number;
  label: string;
  fileName: string;
  key: CryptoKeyId;
  reason: string;
}

export interface Diagnosis {
  causes: Cause[];
  advisories: Advisory[];
  /** The VM home key is missing on its host (cryptoState locked, or the pre-6.7 signal). */
  locked: boolean;
  /** Set when a disk key is missing (only then does the boot disk matter). */
  bootDisk?: BootDiskResult;
  missingDisks: DiskWithMissingKey[];
}

const KMS_DOWN_REASONS = new Set(['KeyStateClusterUnreachable', 'KeyStateClusterInvalid']);
const KEY_GONE_REASONS = new Set(['KeyStateMissingInKMS', 'KeyStateNotActiveOrEnabled']);

/**
 * Locked: cryptoState "locked" (6.7+); before 6.7 the property is absent and VMware's
 * own module reads connectionState "invalid" on an encrypted VM as locked.
 */
export function isLocked(vm: VmCryptoSnapshot): boolean {
  if (vm.cryptoState !== undefined) return vm.cryptoState === 'locked';
  return vm.connectionState === 'invalid' && vm.keyId !== undefined;
}

export function isEncrypted(vm: VmCryptoSnapshot): boolean {
  return vm.keyId !== undefined || vm.disks.some((d) => d.keyId !== undefined || d.parentKeyIds.length > 0);
}

/** Turns gathered facts into causes and advisories. Pure: same facts, same answer. */
export function diagnose(facts: VmFacts): Diagnosis {
  const vm = facts.snapshot;
  const vmName = vm?.name ?? facts.vm.value;
  if (!vm) {
    return { causes: [{ code: 'vm-gone', message: `VM ${facts.vm.value} no longer exists in vCenter ${facts.vcenter}` }], advisories: [], locked: false, missingDisks: [] };
  }
  if (!isEncrypted(vm)) {
    return {
      causes: [{ code: 'not-encrypted', message: `VM ${vmName} is not encrypted (no home or disk key); a crypto lock cannot be its problem` }],
      advisories: [],
      locked: false,
      missingDisks: [],
    };
  }

  const locked = isLocked(vm);
  const causes: Cause[] = [];
  const required = requiredKeys(vm);
  const homeKeyGone: Cause[] = [];
  const unknownReasons: Cause[] = [];
  const kmsDownProviders = new Set<string>();
  const missingDisks: DiskWithMissingKey[] = [];

  // Without key statuses (vCenter before 6.7 U2) nothing per key is known: no key is
  // called gone, so no disk is detached; re-pushing the keys is tried below.
  for (const req of facts.keyStatusUnavailable ? [] : required) {
    const provider = req.key.providerId?.id;
    const st = statusFor(facts.keyStatuses, req.key);
    const providerDown = provider !== undefined && facts.kmsActive[provider] === false;
    if (!st) {
      unknownReasons.push(keyCause('unknown-key-reason:no-status', req, `vCenter returned no status for key ${keyString(req.key)}`));
      continue;
    }
    if (st.keyAvailable !== false) continue;
    const reason = st.reason ?? '';
    if (KMS_DOWN_REASONS.has(reason) || (providerDown && !KEY_GONE_REASONS.has(reason))) {
      kmsDownProviders.add(provider ?? '(default provider)');
    } else if (KEY_GONE_REASONS.has(reason)) {
      const inactive = reason === 'KeyStateNotActiveOrEnabled';
      // A gone home key is one cause, also where disks share that key.
      const isHomeKey = req.roles.some((r) => r.kind === 'home');
      for (const role of req.roles) {
        if (isHomeKey && role.kind === 'disk') continue;
        if (role.kind === 'home') {
          if (!homeKeyGone.length) {
            homeKeyGone.push(
              keyCause(
                inactive ? 'home-key-inactive' : 'home-key-missing-in-kms',
                req,
                `home key ${keyString(req.key)} of VM ${vmName} is ${inactive ? 'not active or enabled' : 'missing'} in key provider ${provider ?? '(default)'}`,
              ),
            );
          }
        } else if (!missingDisks.some((d) => d.deviceKey === role.deviceKey)) {
          missingDisks.push({ deviceKey: role.deviceKey, label: role.label, fileName: role.fileName, key: req.key, reason });
        }
      }
    } else {
      unknownReasons.push(keyCause(`unknown-key-reason:${reason || 'none'}`, req, `key ${keyString(req.key)} is unavailable for a reason vmlock does not know: ${reason || '(none given)'}`));
    }
  }

  for (const p of kmsDownProviders) {
    causes.push({ code: 'kms-unreachable', provider: p, message: `key provider ${p} is unreachable from vCenter ${facts.vcenter}; its keys cannot be fetched` });
  }
  causes.push(...homeKeyGone, ...unknownReasons);

  let bootDisk: BootDiskResult | undefined;
  if (missingDisks.length) {
    bootDisk = identifyBootDisk(vm);
    const boot = bootDisk.disk;
    if (!boot) {
      causes.push({
        code: 'boot-disk-unknown',
        message: `disk key(s) missing for ${missingDisks.map((d) => d.fileName).join(', ')} and the boot disk cannot be identified (${bootDisk.reason}); no disk is detached`,
        disks: missingDisks.map((d) => ({ deviceKey: d.deviceKey, fileName: d.fileName, key: keyString(d.key) })),
      });
    } else {
      for (const d of missingDisks) {
        const isBoot = d.deviceKey === boot.key;
        causes.push({
          code: isBoot ? 'boot-disk-key-missing' : 'nonboot-disk-key-missing',
          message: `key ${keyString(d.key)} of ${isBoot ? 'boot' : 'non-boot'} disk ${d.label} (${d.fileName}) is gone from its key provider (${d.reason})`,
          key: keyString(d.key),
          keyId: d.key.keyId,
          provider: d.key.providerId?.id,
          deviceKey: d.deviceKey,
          fileName: d.fileName,
        });
      }
    }
  }

  // Keys all fetchable but the VM locked (or refused power-on): the host's key cache lost them.
  const keysOk = kmsDownProviders.size === 0 && homeKeyGone.length === 0 && unknownReasons.length === 0;
  const powerOnFailed = facts.signalKind === 'powerOnFailure' && vm.powerState !== 'poweredOn' && missingDisks.length === 0;
  const needsKeysPushed = keysOk && (locked || powerOnFailed);
  if (needsKeysPushed && facts.keyStatusUnavailable) {
    causes.push({
      code: 'key-status-unavailable',
      message: `vCenter ${facts.vcenter} cannot report key status (QueryCryptoKeyStatus needs vSphere 6.7 U2 or later): the keys of VM ${vmName} are re-pushed once, which is harmless; if it stays ${locked ? 'locked' : 'unable to power on'}, a key is missing in the key provider`,
      key: vm.keyId ? keyString(vm.keyId) : undefined,
      keyId: vm.keyId?.keyId,
      provider: vm.keyId?.providerId?.id,
    });
  } else if (needsKeysPushed) {
    causes.push({
      code: 'keys-missing-on-host',
      message: `the keys of VM ${vmName} are available from the key provider but missing on host ${facts.host?.name ?? vm.host?.value ?? '(unknown)'} (key cache cleared, e.g. by a reboot): re-push them`,
      key: vm.keyId ? keyString(vm.keyId) : undefined,
    });
  }

  const needsRemediation = locked || powerOnFailed || missingDisks.length > 0;
  if (needsRemediation && facts.host && facts.host.cryptoState !== 'safe') {
    causes.push({
      code: 'host-not-crypto-safe',
      message: `host ${facts.host.name} is ${facts.host.cryptoState === undefined ? 'not capable of crypto-safe mode' : `in crypto state "${facts.host.cryptoState}", not "safe"`}; it cannot receive keys`,
      entity: facts.host.moref.value,
      hostCryptoState: facts.host.cryptoState ?? null,
    });
  }
  if ((locked || needsKeysPushed) && facts.canRegisterVm === false) {
    causes.push({
      code: 'missing-privilege',
      message: `the service account lacks ${REGISTER_VM_PRIVILEGE} on folder ${vm.parent?.value ?? '(unknown)'}, needed to send keys to the host`,
      privilege: REGISTER_VM_PRIVILEGE,
      entity: vm.parent?.value,
    });
  }
  if (!needsRemediation && causes.length === 0) {
    causes.push({ code: 'stale-alarm', message: `VM ${vmName} is not locked any more and needs no key: the alarm or signal is stale` });
  }

  // The decisive cause first: what blocks (escalate, wait) before what vmlock fixes.
  const rank: Record<string, number> = { escalate: 0, wait: 1, act: 2, close: 3 };
  causes.sort((a, b) => (rank[causeClass(a.code)] ?? 0) - (rank[causeClass(b.code)] ?? 0));
  return { causes, advisories: advisories(facts, vm, required, kmsDownProviders), locked, bootDisk, missingDisks };
}

function keyCause(code: Cause['code'], req: RequiredKey, message: string): Cause {
  return { code, message, key: keyString(req.key), keyId: req.key.keyId, provider: req.key.providerId?.id };
}

function advisories(facts: VmFacts, vm: VmCryptoSnapshot, required: RequiredKey[], kmsDown: Set<string>): Advisory[] {
  const out: Advisory[] = [];
  // By datastore type when known, else by the default vSAN datastore name in the file paths.
  const vsan = facts.datastoreTypes
    ? vm.datastores.filter((ds) => facts.datastoreTypes?.[ds.value]?.toLowerCase() === 'vsan').map((d) => d.value)
    : [...new Set([vm.vmPathName ?? '', ...vm.disks.map((d) => d.fileName)].map((p) => /^\[([^\]]+)\]/.exec(p)?.[1] ?? '').filter((n) => /vsan/i.test(n)))];
  if (vsan.length) {
    out.push({
      code: 'vsan-datastore',
      message: `VM encryption on vSAN datastore ${vsan.join(', ')}: prefer vSAN encryption there, which keeps deduplication and compression effective`,
    });
  }
  const home = vm.keyId;
  const others = required.filter((r) => !home || !sameKey(r.key, home));
  if (home && others.length) {
    out.push({
      code: 'differential-keys',
      message: `disks of VM ${vm.name} use key(s) other than its home key (${others.map((r) => keyString(r.key)).join(', ')}): each must be kept in the key provider`,
    });
  }
  if (facts.events.some((e) => e.eventTypeId === 'com.vmware.vc.vm.crypto.DiskchainUsingMixedKeys')) {
    out.push({ code: 'mixed-key-chain', message: `a disk chain of VM ${vm.name} is encrypted with mixed keys` });
  }
  // Statuses of keys this VM does not need (e.g. from a key inventory) that no VM uses.
  if (facts.keyStatusBits & CheckKey.usedByVms) {
    for (const st of facts.keyStatuses) {
      if (st.encryptedVMs.length === 0 && !required.some((r) => sameKey(r.key, st.keyId))) {
        out.push({ code: 'unused-key', message: `key ${keyString(st.keyId)} is used by no VM any more` });
      }
    }
  }
  const inactiveButCached = Object.entries(facts.kmsActive).filter(([p, active]) => !active && !kmsDown.has(p));
  for (const [p] of inactiveButCached) {
    out.push({ code: 'kms-inactive-keys-cached', message: `key provider ${p} is not active; this VM's keys are still available from vCenter's cache` });
  }
  return out;
}
