import { join } from 'node:path';
import type { Child, ChildSet } from './children.ts';
import { SIM_PASSWORD_ENV } from './vmlock-config.ts';

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
