import type { Command } from 'commander';
import { addConnectionOptions, addJsonOption, configFromFlags, type ConnectionFlags } from '../options.ts';
import { createLogger, type Logger } from '../../log.ts';
import { VmlockError } from '../../errors.ts';
import type { Config } from '../../config/schema.ts';
import { createClientFromConfig, type VsphereClient } from '../../vsphere/client.ts';
import { collectVmCrypto, formatKey, table, type VmCryptoRow } from '../../vsphere/inventory.ts';

/** Connects to every configured vCenter in turn, runs `fn`, and always logs out. */
export async function withEachVcenter<T>(config: Config, logger: Logger, fn: (client: VsphereClient) => Promise<T[]>): Promise<T[]> {
  if (config.vcenters.length === 0) {
    throw new VmlockError(
      'VMLOCK_ERR_USAGE',
      'no vCenter configured: add one under "vcenters" in the config file, or pass --vcenter https://HOST/sdk --user USER (password from --password-file or VMLOCK_PASSWORD)',
    );
  }
  const out: T[] = [];
  for (const vc of config.vcenters) {
    const client = createClientFromConfig(vc, logger);
    try {
      await client.connect();
      out.push(...(await fn(client)));
    } catch (err) {
      throw new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', `vCenter ${vc.name}: ${(err as Error).message}`, { cause: err });
    } finally {
      await client.close();
    }
  }
  return out;
}

/** CLI logs go to stderr so stdout stays the command's output. */
export function cliLogger(config: Config): Logger {
  return createLogger({ level: config.logging.level === 'info' ? 'warn' : config.logging.level, name: 'cli', destination: process.stderr });
}

interface VmsFlags extends ConnectionFlags {
  locked: boolean;
  json: boolean;
}

function render(rows: readonly VmCryptoRow[]): string {
  if (rows.length === 0) return 'no VMs';
  return table(
    ['VCENTER', 'VM', 'NAME', 'POWER', 'CRYPTO', 'HOME KEY', 'DISK KEYS'],
    rows.map((r) => [
      r.vcenter,
      r.moref,
      r.name,
      r.powerState ?? '-',
      r.cryptoState ?? '-',
      formatKey(r.homeKey),
      r.disks.filter((d) => d.keyId).map((d) => `${d.key}=${formatKey(d.keyId)}${d.parentKeyIds.length ? ` (+${d.parentKeyIds.length} parent)` : ''}`).join(', ') || '-',
    ]),
  );
}

export function register(program: Command): void {
  addJsonOption(
    addConnectionOptions(
      program
        .command('vms')
        .description('list VMs with their crypto state, home key and disk keys')
        .option('--locked', 'only VMs whose runtime.cryptoState is locked', false),
    ),
  ).action(async (flags: VmsFlags) => {
    const config = configFromFlags(flags);
    const logger = cliLogger(config);
    const rows = await withEachVcenter(config, logger, (client) => collectVmCrypto(client, { lockedOnly: flags.locked }));
    process.stdout.write((flags.json ? JSON.stringify(rows, null, 2) : render(rows)) + '\n');
  });
}
