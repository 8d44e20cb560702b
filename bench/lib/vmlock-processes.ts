import { join } from 'node:path';
import type { Child, ChildSet } from './children.ts';
import { SIM_PASSWORD_ENV, writeVmlockConfig } from './vmlock-config.ts';
import type { PhaseEnv } from './phase.ts';

/**
 * Starts vmlock's own processes exactly as an operator would:
 * `node bin/vmlock.js <poller|worker|notifier> --config FILE`. bin/vmlock.js
 * runs the TypeScript in-process through tsx, so each pid is the component
 * itself (its /proc figures are the component's).
 */

export type VmlockKind = 'poller' | 'worker' | 'notifier';

export interface VmlockContext {
  children: ChildSet;
  repoRoot: string;
  configFile: string;
  simPassword: string;
  /** Distinguishes the phases' log files (storm-poller.log, inventory-poller.log). */
  phase: string;
}

export function startVmlock(ctx: VmlockContext, kind: VmlockKind, index = 0): Child {
  return ctx.children.start({
    name: `${ctx.phase}-${kind}${kind === 'worker' ? `-${index + 1}` : ''}`,
    command: process.execPath,
    args: [join(ctx.repoRoot, 'bin/vmlock.js'), kind, '--config', ctx.configFile],
    cwd: ctx.repoRoot,
    env: { [SIM_PASSWORD_ENV]: ctx.simPassword, VMLOCK_CONFIG: ctx.configFile },
  });
}

export function startWorkers(ctx: VmlockContext, count: number): Child[] {
  return Array.from({ length: count }, (_, i) => startVmlock(ctx, 'worker', i));
}

/**
 * One phase's vmlock against its simulator: writes the config (tasks capped at
 * the simulator's concurrency, reconciliation outside every measured window)
 * and starts a poller, the configured workers and a notifier.
 */
export function startVmlockStack(
  env: PhaseEnv,
  children: ChildSet,
  phase: string,
  p: { sim: { url: string; user: string; password: string }; redisPrefix: string; exchange: string },
): { poller: Child; workers: Child[]; notifier: Child } {
  const o = env.opts;
  const configFile = writeVmlockConfig(env.tmpDir, phase, {
    simUrl: p.sim.url,
    simUser: p.sim.user,
    redisUrl: o.redisUrl,
    redisPrefix: p.redisPrefix,
    amqpUrl: o.amqpUrl,
    exchange: p.exchange,
    maxConcurrentTasks: o.taskConcurrency,
    workerConcurrency: o.workerConcurrency,
    reconcileInterval: '1h',
  });
  const ctx: VmlockContext = { children, repoRoot: env.repoRoot, configFile, simPassword: p.sim.password, phase };
  env.log(`${phase}: starting poller, ${o.workers} workers and notifier`);
  return { poller: startVmlock(ctx, 'poller'), workers: startWorkers(ctx, o.workers), notifier: startVmlock(ctx, 'notifier') };
}
