import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { IncidentStore } from '../incidents/store.ts';
import { isClosed, type Incident } from '../incidents/model.ts';
import { errorMessage } from '../errors.ts';
import { freePortOnLoopback } from './ports.ts';
import { preflight, type ServiceProblem } from './preflight.ts';
import { LineFeed, ProcessGroup, tailOfLog, waitForJsonLine, type ChildHandle } from './processes.ts';
import { getJson, parseScenario, parseSimStats, type ExpectedVm, type SimStats } from './scenario.ts';
import { NotificationTap } from './notifications.ts';
import { ProgressView } from './progress.ts';
import { buildReport, latestByVm, type DemoReport } from './report.ts';
import { writeDemoConfig } from './config-file.ts';

/**
 * The demo: the simulator, the poller, N workers and the notifier as separate
 * OS processes on one generated config, watched until every VM the scenario
 * lists has ended, then a report. Steps:
 *   1. preflight Redis and RabbitMQ (nothing starts when either is missing);
 *   2. bind an exclusive queue to the exchange (before any process runs);
 *   3. start the simulator, read its URL and credentials, write the config;
 *   4. start poller, workers, notifier; poll the incident store for progress;
 *   5. when every expected incident is closed (or on timeout / a dead process /
 *      Ctrl-C), wait briefly for the final notifications, stop everything, report.
 */
export interface DemoOptions {
  scenario: string;
  vms?: number;
  workers: number;
  timeoutMs: number;
  redisUrl: string;
  amqpUrl: string;
  exchange: string;
  /** Where progress lines go (stderr in the CLI). */
  progress: NodeJS.WriteStream;
  signal?: AbortSignal;
  /** Delete this run's Redis keys after the report (default: keep them for `vmlock incidents`). */
  cleanup?: boolean;
  /** Extra arguments for `vmlock sim` (e.g. --seed). */
  simArgs?: string[];
}

export type DemoResult =
  | { kind: 'preflight-failed'; problems: ServiceProblem[] }
  | { kind: 'finished'; report: DemoReport };

/** How long to wait, after the last incident closed, for its final notification. */
const NOTIFICATION_GRACE_MS = 15_000;
const SIM_START_TIMEOUT_MS = 60_000;

interface SimEndpoint {
  url: string;
  controlUrl: string;
  user: string;
  password: string;
}

function pickSimEndpoint(v: Record<string, unknown>): SimEndpoint | undefined {
  const url = typeof v.url === 'string' ? v.url : typeof v.sdkUrl === 'string' ? v.sdkUrl : undefined;
  if (!url || typeof v.user !== 'string' || typeof v.password !== 'string') return undefined;
  const controlUrl = typeof v.controlUrl === 'string' ? v.controlUrl : url.replace(/\/sdk\/?$/, '/_sim');
  return { url, controlUrl: controlUrl.replace(/\/$/, ''), user: v.user, password: v.password };
}

function runId(): string {
  const t = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${t}-${randomBytes(3).toString('hex')}`;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const problems = await preflight({ redisUrl: opts.redisUrl, amqpUrl: opts.amqpUrl });
  if (problems.length) return { kind: 'preflight-failed', problems };

  const id = runId();
  const vcenterName = `demo-${id.slice(-6)}`;
  const redisPrefix = `vmlock-demo-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'vmlock-demo-'));
  const view = new ProgressView(opts.progress);
  const group = new ProcessGroup(dir);
  const lastResort = () => group.killAllNow();
  process.once('exit', lastResort);

  const startedAt = new Date();
  let failure: string | undefined;
  let timedOut = false;
  let scenarioName = opts.scenario;
  let expected: ExpectedVm[] = [];
  let sim: SimEndpoint | undefined;
  let configFile = '';
  let tap: NotificationTap | undefined;
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {}); // commands fail visibly below; the event would only repeat it
  const store = new IncidentStore(redis, redisPrefix);
  let incidents: Incident[] = [];

  // A process that ends on its own ends the run with its log's last lines.
  let died: ((why: string) => void) | undefined;
  const deadProcess = new Promise<string>((res) => (died = res));
  group.onUnexpectedExit((child: ChildHandle, code, sig) => {
    died?.(`${child.name} (pid ${child.pid}) exited unexpectedly (${sig ?? `code ${code}`}); last lines of ${child.logFile}:\n${tailOfLog(child.logFile)}`);
  });
  const aborted = new Promise<string>((res) => {
    if (opts.signal?.aborted) res('interrupted');
    opts.signal?.addEventListener('abort', () => res('interrupted (Ctrl-C): every process was stopped'), { once: true });
  });

  try {
    view.note(`vmlock demo: logs of every process in ${dir}`);
    tap = await NotificationTap.open({ url: opts.amqpUrl, exchange: opts.exchange, vcenter: vcenterName });

    const simFeed = new LineFeed();
    const simArgs = ['sim', '--scenario', opts.scenario, '--port', '0', '--json', ...(opts.vms ? ['--vms', String(opts.vms)] : []), ...(opts.simArgs ?? [])];
    const simChild = group.spawnVmlock('simulator', simArgs, { onStdoutLine: simFeed.push, env: { VMLOCK__http__enabled: 'false' } });
    sim = await Promise.race([
      waitForJsonLine(simChild, simFeed, pickSimEndpoint, SIM_START_TIMEOUT_MS),
      aborted.then((why) => Promise.reject(new Error(why))),
    ]);
    const scenario = parseScenario(await getJson(`${sim.controlUrl}/scenario`));
    scenarioName = scenario.name === 'unknown' ? opts.scenario : scenario.name;
    expected = scenario.vms;
    view.note(`simulator ${sim.url}: scenario "${scenarioName}", ${expected.length} VMs listed, ${expected.filter((e) => e.outcome !== 'none').length} expected to need vmlock`);

    configFile = writeDemoConfig({
      dir,
      vcenterName,
      sdkUrl: sim.url,
      user: sim.user,
      password: sim.password,
      redisUrl: opts.redisUrl,
      redisPrefix,
      amqpUrl: opts.amqpUrl,
      exchange: opts.exchange,
    });
    const common = ['--config', configFile];
    const httpOff = { VMLOCK__http__enabled: 'false' };
    const opsPort = await freePortOnLoopback();
    group.spawnVmlock('poller', ['poller', ...common], { env: { VMLOCK__http__port: String(opsPort) } });
    for (let i = 1; i <= opts.workers; i++) group.spawnVmlock(`worker-${i}`, ['worker', ...common], { env: httpOff });
    group.spawnVmlock('notifier', ['notifier', ...common], { env: httpOff });
    view.note(`started poller, ${opts.workers} worker(s), notifier; ops HTTP of the poller: http://127.0.0.1:${opsPort}/queues`);

    const needed = expected.filter((e) => e.outcome !== 'none');
    const deadline = startedAt.getTime() + opts.timeoutMs;
    const tickMs = needed.length > 100 ? 1_000 : 500;
    let stop: string | undefined;
    for (;;) {
      incidents = await store.list({ limit: Math.max(1000, expected.length * 3), timeline: false });
      const byState: Record<string, number> = {};
      for (const inc of latestByVm(incidents).values()) byState[inc.state] = (byState[inc.state] ?? 0) + 1;
      view.update({ elapsedMs: Date.now() - startedAt.getTime(), byState, expected: needed.length, notifications: tap.consumed.length });
      const latest = latestByVm(incidents);
      const allDone = needed.every((e) => {
        const inc = latest.get(e.moref);
        return inc !== undefined && isClosed(inc.state);
      });
      const anyOpen = [...latest.values()].some((i) => !isClosed(i.state));
      if (allDone && !anyOpen) break;
      if (Date.now() >= deadline) {
        timedOut = true;
        failure = `timed out after ${Math.round(opts.timeoutMs / 1000)} s with ${needed.filter((e) => !isClosed(latest.get(e.moref)?.state ?? 'open')).length} VM(s) not finished`;
        break;
      }
      stop = await Promise.race([sleep(tickMs).then(() => undefined), deadProcess, aborted]);
      if (stop) {
        failure = stop;
        break;
      }
    }
    view.finish();

    if (!failure) {
      // The notifier publishes asynchronously: give the last messages a moment.
      const graceEnd = Date.now() + NOTIFICATION_GRACE_MS;
      const closedIds = () => incidents.filter((i) => isClosed(i.state)).map((i) => i.id);
      while (Date.now() < graceEnd) {
        const terminal = tap.terminalByIncident();
        if (closedIds().every((i) => terminal.has(i))) break;
        const why = await Promise.race([sleep(250).then(() => undefined), deadProcess, aborted]);
        if (why) {
          failure = why;
          break;
        }
      }
    }
  } catch (err) {
    failure = errorMessage(err);
  } finally {
    view.finish();
  }

  // Final figures before anything stops.
  let simulator: SimStats = { detachedFiles: [], destroyedFiles: [] };
  if (sim) {
    try {
      simulator = parseSimStats(await getJson(`${sim.controlUrl}/stats`, 5_000));
    } catch (err) {
      view.note(`could not read the simulator's stats: ${errorMessage(err)}`);
    }
  }
  try {
    incidents = await store.list({ limit: Math.max(1000, expected.length * 3), timeline: true });
  } catch (err) {
    failure ??= `cannot read incidents from Redis: ${errorMessage(err)}`;
  }
  view.note('stopping every vmlock process ...');
  await group.stopAll();
  process.removeListener('exit', lastResort);
  await tap?.close();
  let cleaned = false;
  if (opts.cleanup) {
    try {
      const removed = await deleteKeys(redis, `${redisPrefix}:*`);
      cleaned = true;
      view.note(`removed the run's ${removed} Redis keys (${redisPrefix}:*)`);
    } catch (err) {
      view.note(`could not remove the run's Redis keys: ${errorMessage(err)}`);
    }
  }
  redis.disconnect();

  const report = buildReport({
    scenario: scenarioName,
    vcenter: vcenterName,
    redisPrefix,
    exchange: opts.exchange,
    startedAt,
    endedAt: new Date(),
    timedOut,
    ...(failure ? { failure } : {}),
    expected,
    incidents,
    notifications: tap?.consumed ?? [],
    ignoredNotifications: tap?.ignored ?? 0,
    simulator,
    logDir: dir,
    configFile,
    redisKept: !cleaned,
  });
  return { kind: 'finished', report };
}

/** SCAN + UNLINK of every key matching the pattern (never KEYS or FLUSH on a shared Redis). */
async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) removed += await redis.unlink(...keys);
  } while (cursor !== '0');
  return removed;
}
