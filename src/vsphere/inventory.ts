import type { VsphereApi } from './api.ts';
import type { CryptoKeyId, VmCryptoSnapshot } from './types.ts';

/** Crypto view of every VM of one vCenter, for the `vms` and `keys usage` commands. */
export interface VmCryptoRow {
  vcenter: string;
  moref: string;
  name: string;
  powerState?: string;
  connectionState?: string;
  cryptoState?: string;
  homeKey?: CryptoKeyId;
  disks: { key: number; label: string; fileName: string; keyId?: CryptoKeyId; parentKeyIds: CryptoKeyId[] }[];
}

export interface KeyUsageRow {
  keyId: string;
  providerId?: string;
  vcenter: string;
  vm: string;
  vmName: string;
  /** "home", "disk 2000 (Hard disk 1)", or "disk 2000 (Hard disk 1) parent 1". */
  usage: string;
}

const SNAPSHOT_BATCH = 100;

export function formatKey(k: CryptoKeyId | undefined): string {
  if (!k) return '-';
  return k.providerId ? `${k.providerId.id}/${k.keyId}` : k.keyId;
}

function toRow(vcenter: string, s: VmCryptoSnapshot): VmCryptoRow {
  return {
    vcenter,
    moref: s.moref.value,
    name: s.name,
    powerState: s.powerState,
    connectionState: s.connectionState,
    cryptoState: s.cryptoState,
    homeKey: s.keyId,
    disks: s.disks.map((d) => ({ key: d.key, label: d.label, fileName: d.fileName, keyId: d.keyId, parentKeyIds: d.parentKeyIds })),
  };
}

/** Every VM (or only the locked ones) with its home and disk keys: listVmStates, then snapshots in batches. */
export async function collectVmCrypto(api: VsphereApi, options: { lockedOnly?: boolean } = {}): Promise<VmCryptoRow[]> {
  const states = await api.listVmStates();
  const wanted = options.lockedOnly ? states.filter((s) => s.cryptoState === 'locked') : states;
  const rows: VmCryptoRow[] = [];
  for (let i = 0; i < wanted.length; i += SNAPSHOT_BATCH) {
    const batch = wanted.slice(i, i + SNAPSHOT_BATCH);
    const snaps = await api.getVmCryptoSnapshots(batch.map((s) => s.moref));
    for (const s of batch) {
      const snap = snaps.get(s.moref.value);
      if (snap) rows.push(toRow(api.name, snap));
    }
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.moref.localeCompare(b.moref));
}

export function keyUsage(rows: readonly VmCryptoRow[], keyId?: string): KeyUsageRow[] {
  const out: KeyUsageRow[] = [];
  const add = (k: CryptoKeyId | undefined, row: VmCryptoRow, usage: string): void => {
    if (!k || (keyId !== undefined && k.keyId !== keyId)) return;
    out.push({ keyId: k.keyId, ...(k.providerId ? { providerId: k.providerId.id } : {}), vcenter: row.vcenter, vm: row.moref, vmName: row.name, usage });
  };
  for (const row of rows) {
    add(row.homeKey, row, 'home');
    for (const d of row.disks) {
      const what = `disk ${d.key} (${d.label || d.fileName})`;
      add(d.keyId, row, what);
      d.parentKeyIds.forEach((p, i) => add(p, row, `${what} parent ${i + 1}`));
    }
  }
  return out.sort((a, b) => a.keyId.localeCompare(b.keyId) || a.vmName.localeCompare(b.vmName) || a.usage.localeCompare(b.usage));
}

/** Plain aligned columns for terminal output. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
