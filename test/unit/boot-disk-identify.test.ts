import { describe, expect, it } from 'vitest';
import { identifyBootDisk } from '../../src/diagnosis/boot-disk.ts';
import { disk } from './diagnosis-fixtures.ts';
import type { VmCryptoSnapshot } from '../../src/vsphere/types.ts';

type BootInput = Pick<VmCryptoSnapshot, 'disks' | 'bootOrder' | 'extraConfig' | 'firmware'>;
const base: BootInput = { disks: [disk(2000, 0), disk(2001, 1)], bootOrder: [], extraConfig: {}, firmware: 'bios' };
const sata = (key: number, bus: number, unit: number) => disk(key, unit, null, { controller: { kind: 'sata', busNumber: bus } });

const cases: { name: string; input: Partial<BootInput>; want: number | undefined; via?: string }[] = [
  { name: 'bootOrder first disk entry wins', input: { bootOrder: [{ kind: 'cdrom' }, { kind: 'disk', deviceKey: 2001 }] }, want: 2001, via: 'bootOrder' },
  { name: 'bootOrder naming an absent disk is unknown', input: { bootOrder: [{ kind: 'disk', deviceKey: 2999 }] }, want: undefined },
  { name: 'bootOrder without disks falls through to hddOrder', input: { bootOrder: [{ kind: 'ethernet', deviceKey: 4000 }], extraConfig: { 'bios.hddOrder': 'scsi0:1,scsi0:0' } }, want: 2001, via: 'bios.hddOrder' },
  { name: 'bios.hddOrder names the disk', input: { extraConfig: { 'bios.bootOrder': 'hdd,cdrom', 'bios.hddOrder': 'scsi0:1' } }, want: 2001, via: 'bios.hddOrder' },
  { name: 'bios.hddOrder naming no disk is unknown', input: { extraConfig: { 'bios.hddOrder': 'ide1:0' } }, want: undefined },
  { name: 'bios.hddOrder garbage is unknown', input: { extraConfig: { 'bios.hddOrder': 'floppy' } }, want: undefined },
  { name: 'EFI ignores bios.hddOrder and uses the 0:0 slot', input: { firmware: 'efi', extraConfig: { 'bios.hddOrder': 'scsi0:1' } }, want: 2000, via: 'lowest-slot' },
  { name: 'a single disk is the boot disk', input: { disks: [disk(2005, 3)] }, want: 2005, via: 'only-disk' },
  { name: 'lowest slot on one controller kind at 0:0', input: { disks: [disk(2001, 1), disk(2000, 0)] }, want: 2000, via: 'lowest-slot' },
  { name: 'lowest slot not at 0:0 is unknown', input: { disks: [disk(2001, 1), disk(2002, 2)] }, want: undefined },
  { name: 'mixed controller kinds are unknown', input: { disks: [disk(2000, 0), sata(16000, 0, 0)] }, want: undefined },
  { name: 'two disks in the same slot are unknown', input: { disks: [disk(2000, 0), disk(2001, 0)] }, want: undefined },
  { name: 'a disk without a unit number is unknown', input: { disks: [disk(2000, 0), disk(2001, 1, null, { unitNumber: undefined })] }, want: undefined },
  { name: 'unknown controller is unknown', input: { disks: [disk(2000, 0, null, { controller: undefined }), disk(2001, 1)] }, want: undefined },
  { name: 'no disks is unknown', input: { disks: [] }, want: undefined },
  { name: 'sata lowest slot at 0:0', input: { disks: [sata(16001, 0, 1), sata(16000, 0, 0)] }, want: 16000, via: 'lowest-slot' },
  { name: 'sata on bus 1 only is unknown', input: { disks: [sata(16001, 1, 0), sata(16000, 1, 1)] }, want: undefined },
];

describe('identifyBootDisk', () => {
  it.each(cases)('$name', ({ input, want, via }) => {
    const r = identifyBootDisk({ ...base, ...input });
    expect(r.disk?.key).toBe(want);
    if (r.disk) expect(r.via).toBe(via);
    else expect(r.reason).toMatch(/\w/);
  });
});
