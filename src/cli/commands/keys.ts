import type { Command } from 'commander';
import { addConnectionOptions, addJsonOption, configFromFlags, type ConnectionFlags } from '../options.ts';
import { collectVmCrypto, keyUsage, table } from '../../vsphere/inventory.ts';
import { cliLogger, withEachVcenter } from './vms.ts';

interface KeysFlags extends ConnectionFlags {
  json: boolean;
}

export function register(program: Command): void {
  const keys = program.command('keys').description('encryption keys as vCenter uses them');
  addJsonOption(
    addConnectionOptions(
      keys
        .command('usage')
        .description('list which VMs and disks use which key (home, disk, and disk parent chain); only KEY_ID when given')
        .argument('[KEY_ID]', 'a key id (UUID) to look for'),
    ),
  ).action(async (keyId: string | undefined, flags: KeysFlags) => {
    const config = configFromFlags(flags);
    const rows = keyUsage(await withEachVcenter(config, cliLogger(config), (client) => collectVmCrypto(client)), keyId);
    if (flags.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(keyId ? `key ${keyId} is not used by any VM or disk\n` : 'no encrypted VMs or disks\n');
      return;
    }
    process.stdout.write(table(['KEY', 'PROVIDER', 'VCENTER', 'VM', 'NAME', 'USED AS'], rows.map((r) => [r.keyId, r.providerId ?? '-', r.vcenter, r.vm, r.vmName, r.usage])) + '\n');
  });
}
