import type { Command } from 'commander';
import { addConnectionOptions, addJsonOption, configFromFlags, type ConnectionFlags } from '../options.ts';
import { createLogger } from '../../log.ts';
import { keyString } from '../../diagnosis/keys.ts';
import { diagnoseVm, type DiagnoseOutput } from '../../worker/foreground.ts';

function render(o: DiagnoseOutput): string {
  const vm = o.facts.snapshot;
  const out = [`VM ${o.vm.name} (${o.vm.moref}) on vCenter ${o.vcenter}`];
  if (vm) {
    out.push(
      `  state: power ${vm.powerState ?? '-'}, connection ${vm.connectionState ?? '-'}, crypto ${vm.cryptoState ?? '(not reported)'}`,
      `  home key: ${vm.keyId ? keyString(vm.keyId) : '-'}`,
      ...vm.disks.map((d) => `  disk ${d.key} ${d.fileName}: ${d.keyId ? keyString(d.keyId) : 'not encrypted'}${d.parentKeyIds.length ? ` (parents: ${d.parentKeyIds.map(keyString).join(', ')})` : ''}`),
      `  host: ${o.facts.host ? `${o.facts.host.name} crypto ${o.facts.host.cryptoState ?? '(unsupported)'}` : '-'}`,
      `  keys: ${o.facts.keyStatuses.map((s) => `${keyString(s.keyId)} ${s.keyAvailable === false ? `unavailable (${s.reason ?? 'no reason'})` : 'available'}`).join('; ') || '-'}`,
      `  RegisterVM privilege on folder: ${o.facts.canRegisterVm === undefined ? 'unknown' : o.facts.canRegisterVm ? 'yes' : 'NO'}`,
    );
    if (o.diagnosis.bootDisk) out.push(`  boot disk: ${o.diagnosis.bootDisk.disk ? `${o.diagnosis.bootDisk.disk.key} (${o.diagnosis.bootDisk.via})` : `unknown: ${o.diagnosis.bootDisk.reason}`}`);
  }
  out.push('causes:', ...o.diagnosis.causes.map((c) => `  ${c.code}: ${c.message}`));
  if (o.diagnosis.advisories.length) out.push('advisories:', ...o.diagnosis.advisories.map((a) => `  ${a.code}: ${a.message}`));
  out.push(`plan: ${o.plan.summary}${o.plan.dryRun ? ' (policy.dryRun)' : ''}`, ...o.plan.actions.map((a) => `  ${a.kind} ${a.target}: ${a.reason}`));
  if (o.plan.needsApproval.length) out.push(`  needs approval: ${o.plan.needsApproval.join(', ')}`);
  if (o.plan.humanAction) out.push(`human action: ${o.plan.humanAction}`);
  out.push('(nothing was changed)');
  return out.join('\n');
}

export function register(program: Command): void {
  addJsonOption(
    addConnectionOptions(program.command('diagnose <vm>').description('print the facts, causes and plan for one VM (name or moref); changes nothing')),
  ).action(async (vm: string, flags: ConnectionFlags & { json: boolean }) => {
    const config = configFromFlags(flags);
    const logger = createLogger({ level: 'warn', name: 'cli', destination: process.stderr });
    const o = await diagnoseVm(config, logger, vm);
    process.stdout.write((flags.json ? JSON.stringify(o, null, 2) : render(o)) + '\n');
  });
}
