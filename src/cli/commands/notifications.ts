import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { parseDuration } from '../../config/duration.ts';
import { redactUrl } from '../../log.ts';
import { VmlockError } from '../../errors.ts';
import { tailNotifications, type TailedMessage } from '../../notify/tail.ts';
import { notificationProblems } from '../../notify/schema.ts';
import { formatNotificationLine } from '../../notify/format.ts';
import type { NotificationEvent } from '../../notify/types.ts';

interface TailFlags {
  config?: string;
  url?: string;
  exchange?: string;
  binding: string[];
  json: boolean;
  count?: string;
  timeout?: string;
  dedupe: boolean;
}

const usage = (message: string): VmlockError => new VmlockError('VMLOCK_ERR_USAGE', message);

/** Remembers the last ids seen, so a redelivered notification is shown once. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly limit = 10_000) {}
  /** True the first time an id is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

function render(m: TailedMessage, json: boolean): { out?: string; err?: string } {
  const problems = m.event === undefined ? ['body is not JSON'] : notificationProblems(m.event);
  if (json) return { out: m.event === undefined ? JSON.stringify({ invalid: true, routingKey: m.routingKey, raw: m.raw.slice(0, 2000) }) : JSON.stringify(m.event) };
  if (problems.length) return { err: `invalid notification on ${m.routingKey} (id ${m.messageId ?? '?'}): ${problems.slice(0, 3).join('; ')}` };
  return { out: formatNotificationLine(m.event as NotificationEvent) };
}

async function tail(flags: TailFlags): Promise<number> {
  const config = loadConfig({ file: flags.config });
  const url = flags.url ?? config.rabbitmq.url;
  const exchange = flags.exchange ?? config.rabbitmq.exchange;
  if (!url) throw usage('no RabbitMQ broker configured (rabbitmq.url is empty), so there is nothing to tail; set rabbitmq.url or pass --url');
  let count: number | undefined;
  if (flags.count !== undefined) {
    count = Number(flags.count);
    if (!Number.isInteger(count) || count < 1) throw usage(`--count: "${flags.count}" is not a whole number of at least 1`);
  }
  let timeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    timeoutMs = parseDuration(flags.timeout);
    if (timeoutMs === undefined) throw usage(`--timeout: "${flags.timeout}" is not a duration; write e.g. "30s" or "5m"`);
  }
  const bindings = flags.binding.length ? flags.binding : ['incident.#'];
  const recent = new RecentIds();
  let seen = 0;

  return new Promise<number>((resolve, reject) => {
    let finished = false;
    let handle: { close(): Promise<void> } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number, message?: string): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (message) process.stderr.write(`vmlock: ${message}\n`);
      void (handle?.close() ?? Promise.resolve()).finally(() => resolve(code));
    };
    const onSignal = (): void => finish(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => finish(count !== undefined && seen < count ? 1 : 0, count !== undefined && seen < count ? `timed out after ${flags.timeout} with ${seen} of ${count} notifications` : undefined), timeoutMs);
    }
    tailNotifications({
      url,
      exchange,
      bindings,
      onMessage: (m) => {
        if (finished) return;
        if (flags.dedupe && m.messageId && !recent.add(m.messageId)) return;
        const { out, err } = render(m, flags.json);
        if (out) process.stdout.write(out + '\n');
        if (err) process.stderr.write(err + '\n');
        seen++;
        if (count !== undefined && seen >= count) finish(0);
      },
      onError: (err) => finish(1, err.message),
    }).then(
      (h) => {
        handle = h;
        if (finished) void h.close();
        else process.stderr.write(`tailing exchange "${exchange}" at ${redactUrl(url)} (bindings: ${bindings.join(', ')})\n`);
      },
      (err: unknown) => {
        finished = true;
        if (timer) clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        reject(err);
      },
    );
  });
}

export function register(program: Command): void {
  const notifications = program.command('notifications').description('incident notifications on RabbitMQ');
  notifications
    .command('tail')
    .description('bind a temporary exclusive queue to the exchange and print notifications as they arrive')
    .option('-c, --config <file>', 'configuration file (default: $VMLOCK_CONFIG, else config/default.yaml alone)')
    .option('--url <amqp-url>', 'AMQP URL (default: rabbitmq.url)')
    .option('--exchange <name>', 'exchange (default: rabbitmq.exchange)')
    .addOption(
      new Option('--binding <pattern>', 'topic binding, repeatable')
        .argParser((v: string, acc: string[]) => [...acc, v])
        .default([] as string[], 'incident.#'),
    )
    .option('--json', 'one JSON object (the CloudEvent) per line', false)
    .option('--count <n>', 'exit after N notifications')
    .option('--timeout <duration>', 'exit after this long (exit code 1 if --count was not reached)')
    .option('--no-dedupe', 'show redelivered duplicates (same id) too')
    .action(async (flags: TailFlags) => {
      process.exitCode = await tail(flags);
    });
}
