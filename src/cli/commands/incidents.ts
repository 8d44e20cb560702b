import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { addJsonOption, configFromFlags, type ConnectionFlags } from '../options.ts';
import { VmlockError } from '../../errors.ts';
import { CLOSED_STATES, OPEN_STATES, type Incident, type IncidentState } from '../../incidents/model.ts';
import { IncidentStore } from '../../incidents/store.ts';
import type { Config } from '../../config/schema.ts';

const STATES: readonly string[] = [...OPEN_STATES, ...CLOSED_STATES];

/** Open states first (in lifecycle order), then resolved, escalated, failed; newest first within a state. */
export function sortIncidents(list: Incident[]): Incident[] {
  return [...list].sort((a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state) || b.openedAt.localeCompare(a.openedAt));
}

async function withStore<T>(config: Config, fn: (store: IncidentStore) => Promise<T>): Promise<T> {
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  redis.on('error', () => undefined);
  try {
    return await fn(new IncidentStore(redis, config.redis.prefix));
  } catch (err) {
    if (err instanceof VmlockError) throw err;
    throw new VmlockError('VMLOCK_ERR_SERVICE_UNAVAILABLE', `Redis at ${config.redis.url.replace(/\/\/[^@/]*@/, '//')}: ${(err as Error).message}`, { cause: err });
  } finally {
    redis.disconnect();
  }
}

function row(id: string, state: string, vm: string, causes: string, acts: string): string {
  return `${id.padEnd(28)} ${state.padEnd(17)} ${vm.padEnd(36)} ${causes.padEnd(30)} ${acts}`;
}

const HEADER = row('INCIDENT', 'STATE', 'VM', 'CAUSES', 'ACTIONS');

function line(i: Incident): string {
  const causes = i.causes.map((c) => c.code).join(',') || '-';
  const acts = i.actions.map((a) => `${a.kind}:${a.state}${a.dryRun ? '(dry-run)' : ''}`).join(',') || '-';
  return row(i.id, i.state, `${i.vm.name} (${i.vm.moref})`, causes, acts);
}

export function renderIncident(i: Incident): string {
  const out = [
    `incident ${i.id}: ${i.state}`,
    `  vCenter ${i.vcenter}, VM ${i.vm.name} (${i.vm.moref}), opened ${i.openedAt}${i.closedAt ? `, closed ${i.closedAt}` : ''}, ${i.signals} signal(s)`,
  ];
  if (i.causes.length) out.push('  causes:', ...i.causes.map((c) => `    ${c.code}: ${c.message}`));
  if (i.advisories.length) out.push('  advisories:', ...i.advisories.map((a) => `    ${a.code}: ${a.message}`));
  if (i.actions.length) {
    out.push('  actions:', ...i.actions.map((a) => `    ${a.kind} ${a.target ?? ''} ${a.state}${a.dryRun ? ' (dry-run)' : ''}${a.task ? ` task ${a.task}` : ''}${a.error ? `: ${a.error}` : ''} (${a.reason})`));
  }
  if (i.humanAction) out.push(`  human action: ${i.humanAction}`);
  if (i.approvedBy) out.push(`  approved by ${i.approvedBy}`);
  if (i.timeline.length) out.push('  timeline:', ...i.timeline.map((t) => `    ${t.at} ${t.type.padEnd(8)} ${t.message}`));
  return out.join('\n');
}

interface ListFlags extends ConnectionFlags {
  json: boolean;
  state?: string;
  limit: string;
}

export function register(program: Command): void {
  addJsonOption(
    program
      .command('incidents')
      .description('list incidents (open states first, then resolved, escalated, failed) with causes and actions; --json adds each timeline')
      .option('-c, --config <file>', 'configuration file with the Redis settings (default: $VMLOCK_CONFIG, else config/default.yaml alone); a demo run prints its own')
      .option('--state <state>', `only incidents in exactly this state: ${STATES.join(', ')} ("open" is the state of a new incident, not every unfinished one)`)
      .option('--limit <n>', 'the newest N incidents (after --state)', '1000'),
  ).action(async (flags: ListFlags) => {
    if (flags.state && !STATES.includes(flags.state)) {
      throw new VmlockError('VMLOCK_ERR_USAGE', `--state must be one of ${STATES.join(', ')}, not "${flags.state}"`);
    }
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new VmlockError('VMLOCK_ERR_USAGE', `--limit must be a positive whole number, not "${flags.limit}"`);
    const config = configFromFlags(flags);
    const list = await withStore(config, (store) =>
      store.list({ limit, ...(flags.state ? { state: flags.state as IncidentState } : {}), timeline: flags.json }),
    );
    const sorted = sortIncidents(list);
    if (flags.json) process.stdout.write(JSON.stringify(sorted, null, 2) + '\n');
    else process.stdout.write((sorted.length ? [HEADER, ...sorted.map(line)].join('\n') : 'no incidents') + '\n');
  });

  addJsonOption(
    program.command('incident <id>').description('show one incident: causes, advisories, actions, human action and timeline').option('-c, --config <file>', 'configuration file (Redis settings)'),
  ).action(async (id: string, flags: { json: boolean; config?: string }) => {
    const config = configFromFlags(flags);
    const inc = await withStore(config, (store) => store.require(id));
    process.stdout.write((flags.json ? JSON.stringify(inc, null, 2) : renderIncident(inc)) + '\n');
  });
}
