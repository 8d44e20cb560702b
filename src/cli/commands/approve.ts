import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { addJsonOption, configFromFlags } from '../options.ts';
import { approveIncident } from '../../incidents/approval.ts';
import { INCIDENTS_QUEUE } from '../../incidents/model.ts';
import { IncidentStore } from '../../incidents/store.ts';

export function register(program: Command): void {
  addJsonOption(
    program
      .command('approve <incident>')
      .description('approve the held actions of an incident awaiting approval; a worker carries them out at once')
      .option('-c, --config <file>', 'configuration file (Redis settings)')
      .option('--by <name>', 'who approves (recorded on the incident)', process.env.USER ?? 'cli'),
  ).action(async (id: string, flags: { config?: string; by: string; json: boolean }) => {
    const config = configFromFlags(flags);
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const queue = new Queue(INCIDENTS_QUEUE, { connection: { url: config.redis.url }, prefix: config.redis.prefix });
    queue.on('error', () => undefined);
    try {
      const inc = await approveIncident(new IncidentStore(redis, config.redis.prefix), queue, id, flags.by);
      process.stdout.write(flags.json ? JSON.stringify(inc, null, 2) + '\n' : `approved ${id} by ${flags.by}; a worker carries out ${inc.actions.map((a) => a.kind).join(', ')}\n`);
    } finally {
      await queue.close().catch(() => undefined);
      redis.disconnect();
    }
  });
}
