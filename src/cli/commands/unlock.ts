import type { Command } from 'commander';
import { addConnectionOptions, addJsonOption, configFromFlags, type ConnectionFlags } from '../options.ts';
import { createLogger } from '../../log.ts';
import { unlockVm } from '../../worker/foreground.ts';
import { renderIncident } from './incidents.ts';
import { isDryRunPlan } from '../../notify/severity.ts';

export function register(program: Command): void {
  addJsonOption(
    addConnectionOptions(
      program
        .command('unlock <vm>')
        .description('diagnose and remediate one VM (name or moref) now, in the foreground, with the workers\' pipeline and policy; exit 0 when resolved (or, with --dry-run, planned), 3 otherwise')
        .option('--dry-run', 'diagnose and plan only; change nothing', false),
    ),
  ).action(async (vm: string, flags: ConnectionFlags & { json: boolean; dryRun: boolean }) => {
    const config = configFromFlags(flags, flags.dryRun ? { policy: { dryRun: true } } : {});
    const logger = createLogger({ level: 'warn', name: 'cli', destination: process.stderr });
    const r = await unlockVm(config, logger, vm);
    if (flags.json) process.stdout.write(JSON.stringify({ ended: r.ended, incident: r.incident }, null, 2) + '\n');
    else {
      process.stdout.write(renderIncident(r.incident) + '\n');
      if (r.ended === 'awaiting-approval') process.stdout.write(`waiting for approval: run \`vmlock approve ${r.incident.id}\`\n`);
      if (r.ended === 'handed-to-workers') process.stdout.write(`the workers are still on it: see \`vmlock incident ${r.incident.id}\`\n`);
    }
    // A dry-run that produced its plan did what was asked: exit 0.
    const dryRunPlanned = flags.dryRun && r.ended === 'escalated' && isDryRunPlan(r.incident);
    process.exitCode = r.ended === 'resolved' || dryRunPlanned ? 0 : 3;
  });
}
