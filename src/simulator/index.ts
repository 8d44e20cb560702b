/**
 * The embedded vCenter simulator: vim25 SOAP at /sdk and a JSON control API at
 * /_sim/ on one port. `startSimulator()` is used by `vmlock sim`, `npm run demo`,
 * the benchmark and the tests.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { VmlockError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import type { SimContext } from './context.ts';
import { Control } from './control.ts';
import { buildScenario, loadScenario, parseScenario } from './scenario.ts';
import type { ScenarioFile } from './scenario-schema.ts';
import { createSimServer } from './server.ts';
import { SessionStore } from './sessions.ts';
import { DEFAULT_TASK_DURATIONS_MS, TaskManager } from './tasks.ts';
import { READONLY_CRYPTO_USER, Users } from './users.ts';
import { World, type ApiVersion } from './world.ts';

export const DEFAULT_USER = 'administrator@vsphere.local';
/** Printed by `vmlock sim`; the simulator is test equipment, not a secret store. */
export const DEFAULT_PASSWORD = 'vmlock-sim-Passw0rd!';

export interface SimulatorOptions {
  /** Scenario name (clean, mixed, storm) or YAML file path, or an already parsed scenario. Default: mixed. */
  scenario?: string | ScenarioFile;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  tls?: boolean;
  user?: string;
  password?: string;
  /** Delay of every SOAP call. */
  latencyMs?: number;
  /** Seeds key ids and uuids (same seed, same ids). */
  seed?: number;
  /** Number of generated VMs (scenarios with a `generate` block: clean, storm). */
  vms?: number;
  apiVersion?: ApiVersion;
  /** Tasks running at once; the rest wait queued. Default 32. */
  taskConcurrency?: number;
  /** Per method name, plus `default`. */
  taskDurationsMs?: Record<string, number>;
  /** Default 30 minutes. */
  sessionIdleTimeoutMs?: number;
  logger?: Logger;
}

export interface RunningSimulator {
  /** SOAP endpoint, e.g. http://127.0.0.1:41234/sdk */
  url: string;
  /** Control API base, e.g. http://127.0.0.1:41234/_sim */
  controlUrl: string;
  user: string;
  password: string;
  scenario: string;
  stop(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const logger = options.logger ?? createLogger({ name: 'simulator' });
  const user = options.user ?? DEFAULT_USER;
  const password = options.password ?? DEFAULT_PASSWORD;
  const apiVersion = options.apiVersion ?? '8.0.3';
  if (apiVersion !== '8.0.3' && apiVersion !== '6.5') throw new VmlockError('VMLOCK_ERR_USAGE', `apiVersion must be 8.0.3 or 6.5, not "${String(apiVersion)}"`);
  const concurrency = options.taskConcurrency ?? 32;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new VmlockError('VMLOCK_ERR_USAGE', `taskConcurrency must be a positive integer, not ${concurrency}`);
  const scenarioFile = typeof options.scenario === 'object' ? parseScenario(options.scenario, 'scenario option') : loadScenario(options.scenario ?? 'mixed');

  const world = new World(apiVersion);
  const users = new Users();
  users.add(user, password, true);
  if (user !== READONLY_CRYPTO_USER) {
    users.add(READONLY_CRYPTO_USER, password, true);
    users.revoke(READONLY_CRYPTO_USER, 'Cryptographer.RegisterVM');
  }
  const ctx: SimContext = {
    world,
    tasks: new TaskManager(world, concurrency, { ...DEFAULT_TASK_DURATIONS_MS, ...(options.taskDurationsMs ?? {}) }),
    sessions: new SessionStore(options.sessionIdleTimeoutMs ?? 30 * 60_000),
    users,
    stats: { calls: {}, callsTotal: 0 },
    faultRules: [],
    instanceUuid: randomUUID(),
    logger,
  };
  const built = buildScenario(ctx, scenarioFile, { seed: options.seed ?? 1, vms: options.vms, adminUser: user });

  // Every world change reaches each session's collectors; event collectors' latestPage follows new events.
  world.onChange((ids) => {
    for (const s of ctx.sessions.all()) for (const c of s.collectors.values()) c.noteChange(ids);
  });
  world.events.onEvent(() => {
    const touched: string[] = [];
    for (const s of ctx.sessions.all()) for (const id of s.eventCollectors.keys()) touched.push(id);
    if (touched.length) world.touch(...touched);
  });

  const control = new Control(ctx, built);
  const tls = options.tls ?? false;
  const server = createSimServer(ctx, control, { tls, latencyMs: options.latencyMs ?? 0 });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      ctx.tasks.stop();
      reject(new VmlockError('VMLOCK_ERR_USAGE', `the simulator cannot listen on ${host}:${options.port ?? 0}: ${err.code === 'EADDRINUSE' ? 'the port is in use (try --port 0)' : err.message}`));
    });
    server.listen(options.port ?? 0, host, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => logger.error({ err }, 'simulator server error'));
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const base = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url: `${base}/sdk`, scenario: built.name, vms: world.vms.size, apiVersion }, 'vCenter simulator listening');
  // Expired sessions are dropped at their next use; this sweep frees the ones never used again.
  const sweeper = setInterval(() => ctx.sessions.sweep(), 60_000);
  sweeper.unref();
  let stopped = false;
  return {
    url: `${base}/sdk`,
    controlUrl: `${base}/_sim`,
    user,
    password,
    scenario: built.name,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      ctx.tasks.stop();
      ctx.sessions.endAll();
      world.events.clearListeners();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export { SimControl } from './control-client.ts';
