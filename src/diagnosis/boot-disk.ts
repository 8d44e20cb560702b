import type { DiskControllerKind, VirtualDiskInfo, VmCryptoSnapshot } from '../vsphere/types.ts';

/**
 * Which disk the VM boots from, and how we know. When unsure the answer is
 * `undefined` with the reason: a disk is never detached then (vSphere does not
 * document which disk the firmware picks when nothing names it).
 */
export type BootDiskResult =
  | { disk: VirtualDiskInfo; via: 'bootOrder' | 'bios.hddOrder' | 'only-disk' | 'lowest-slot' }
  | { disk: undefined; reason: string };

const HDD_ORDER_ENTRY = /^(scsi|sata|nvme|ide)(\d+):(\d+)$/i;

function findBySlot(disks: readonly VirtualDiskInfo[], kind: DiskControllerKind, bus: number, unit: number): VirtualDiskInfo[] {
  return disks.filter((d) => d.controller?.kind === kind && d.controller.busNumber === bus && d.unitNumber === unit);
}

export function identifyBootDisk(vm: Pick<VmCryptoSnapshot, 'disks' | 'bootOrder' | 'extraConfig' | 'firmware'>): BootDiskResult {
  const disks = vm.disks;
  if (disks.length === 0) return { disk: undefined, reason: 'the VM has no disks' };

  // 1. config.bootOptions.bootOrder: the first disk entry names the boot disk by device key.
  const firstDiskEntry = vm.bootOrder.find((e) => e.kind === 'disk');
  if (firstDiskEntry && firstDiskEntry.kind === 'disk') {
    const disk = disks.find((d) => d.key === firstDiskEntry.deviceKey);
    if (disk) return { disk, via: 'bootOrder' };
    return { disk: undefined, reason: `bootOrder names disk device ${firstDiskEntry.deviceKey}, which the VM does not have` };
  }

  // 2. Legacy BIOS override: bios.hddOrder ("scsi0:1,ide1:0"); EFI firmware ignores bios.* options.
  const hddOrder = vm.extraConfig['bios.hddOrder']?.trim();
  if (hddOrder && vm.firmware !== 'efi') {
    const first = hddOrder.split(',')[0]?.trim() ?? '';
    const m = HDD_ORDER_ENTRY.exec(first);
    if (!m) return { disk: undefined, reason: `bios.hddOrder "${hddOrder}" does not start with a controller:unit entry` };
    const matches = findBySlot(disks, m[1]!.toLowerCase() as DiskControllerKind, Number(m[2]), Number(m[3]));
    if (matches.length === 1) return { disk: matches[0]!, via: 'bios.hddOrder' };
    return { disk: undefined, reason: `bios.hddOrder names ${first}, which matches ${matches.length} disks` };
  }

  // 3. A VM with one disk boots from it.
  if (disks.length === 1) return { disk: disks[0]!, via: 'only-disk' };

  // 4. Lowest bus:unit, only when every disk sits on the same kind of controller with a
  //    known slot (the firmware's order between controller kinds is not documented).
  const kinds = new Set(disks.map((d) => d.controller?.kind ?? 'unknown'));
  if (kinds.size !== 1 || kinds.has('unknown') || kinds.has('other')) {
    return { disk: undefined, reason: `${disks.length} disks on ${[...kinds].join(', ')} controllers and no boot order names one` };
  }
  if (disks.some((d) => d.unitNumber === undefined)) {
    return { disk: undefined, reason: 'a disk has no unit number and no boot order names one' };
  }
  const slot = (d: VirtualDiskInfo): [number, number] => [d.controller!.busNumber, d.unitNumber!];
  const sorted = [...disks].sort((a, b) => slot(a)[0] - slot(b)[0] || slot(a)[1] - slot(b)[1]);
  const [first, second] = [sorted[0]!, sorted[1]!];
  if (slot(first)[0] === slot(second)[0] && slot(first)[1] === slot(second)[1]) {
    return { disk: undefined, reason: 'two disks share the lowest controller slot' };
  }
  // Only the conventional boot slot 0:0 counts as unambiguous.
  if (slot(first)[0] !== 0 || slot(first)[1] !== 0) {
    return { disk: undefined, reason: `no disk at ${first.controller!.kind}0:0 and no boot order names one` };
  }
  return { disk: first, via: 'lowest-slot' };
}
