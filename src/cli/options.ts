import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';

/** Flags shared by every command that talks to vCenter; together they replace the config's vCenter list. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (default: $VMLOCK_CONFIG, else config/default.yaml alone)')
    .option('--vcenter <url>', 'SDK URL of one vCenter, e.g. https://vc.example.com/sdk (replaces the configured list)')
    .option('--vcenter-name <name>', 'name for --vcenter in incident ids', 'vc')
    .option('--user <user>', 'vCenter user for --vcenter')
    .option('--password-file <file>', 'file holding the password for --vcenter (or set VMLOCK_PASSWORD)')
    .option('--ca-file <file>', 'CA bundle (PEM) that signed vCenter\'s certificate')
    .option('--thumbprint <hex>', 'pin vCenter\'s certificate by its SHA-1/SHA-256 fingerprint')
    .addOption(new Option('--insecure', 'skip TLS verification (logs a warning)').default(false));
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print machine-readable JSON', false);
}

export interface ConnectionFlags {
  config?: string;
  vcenter?: string;
  vcenterName?: string;
  user?: string;
  passwordFile?: string;
  caFile?: string;
  thumbprint?: string;
  insecure?: boolean;
}

/** Loads the config and applies the connection flags over it. */
export function configFromFlags(flags: ConnectionFlags, extra: Record<string, unknown> = {}): Config {
  const overrides: Record<string, unknown> = { ...extra };
  if (flags.vcenter) {
    const tls: Record<string, unknown> = { insecure: Boolean(flags.insecure) };
    if (flags.caFile) tls.caFile = flags.caFile;
    if (flags.thumbprint) tls.thumbprint = flags.thumbprint;
    const vc: Record<string, unknown> = {
      name: flags.vcenterName ?? 'vc',
      url: flags.vcenter,
      user: flags.user ?? process.env.VMLOCK_USER ?? '',
      tls,
    };
    if (flags.passwordFile) vc.passwordFile = flags.passwordFile;
    else vc.passwordEnv = 'VMLOCK_PASSWORD';
    overrides.vcenters = [vc];
  }
  return loadConfig({ file: flags.config, overrides });
}
