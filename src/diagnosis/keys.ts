import type { CryptoKeyId, CryptoKeyStatus, VmCryptoSnapshot } from '../vsphere/types.ts';

/** A stable text form of a key: `<provider>/<keyId>` ("-" when no provider). */
export function keyString(key: CryptoKeyId): string {
  return `${key.providerId?.id ?? '-'}/${key.keyId}`;
}

/**
 * Same key? keyId plus providerId.id, as VMware's own tools compare them; a key
 * with a provider and one without are different keys.
 */
export function sameKey(a: CryptoKeyId, b: CryptoKeyId): boolean {
  return a.keyId === b.keyId && (a.providerId?.id ?? null) === (b.providerId?.id ?? null);
}

/** Where a VM needs a key: its home (config.keyId) or a disk (the disk itself or a parent in its chain). */
export type KeyRole = { kind: 'home' } | { kind: 'disk'; deviceKey: number; label: string; fileName: string; parent: boolean };

export interface RequiredKey {
  key: CryptoKeyId;
  roles: KeyRole[];
}

/** Every distinct key the VM needs, with where it is used: home key first, then disks and their parent chains. */
export function requiredKeys(vm: VmCryptoSnapshot): RequiredKey[] {
  const out: RequiredKey[] = [];
  const add = (key: CryptoKeyId, role: KeyRole): void => {
    const found = out.find((r) => sameKey(r.key, key));
    if (found) found.roles.push(role);
    else out.push({ key, roles: [role] });
  };
  if (vm.keyId) add(vm.keyId, { kind: 'home' });
  for (const d of vm.disks) {
    const base = { kind: 'disk' as const, deviceKey: d.key, label: d.label, fileName: d.fileName };
    if (d.keyId) add(d.keyId, { ...base, parent: false });
    for (const p of d.parentKeyIds) add(p, { ...base, parent: true });
  }
  return out;
}

/**
 * The status vCenter returned for a key. vCenter may echo the key with a
 * provider that the request left out, so a keyId-only match is accepted when
 * the exact match is missing and exactly one status carries that keyId.
 */
export function statusFor(statuses: readonly CryptoKeyStatus[], key: CryptoKeyId): CryptoKeyStatus | undefined {
  const exact = statuses.find((s) => sameKey(s.keyId, key));
  if (exact) return exact;
  const byId = statuses.filter((s) => s.keyId.keyId === key.keyId);
  return byId.length === 1 ? byId[0] : undefined;
}
