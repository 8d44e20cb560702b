import type { Command } from 'commander';

/** Each command module registers its subcommand(s). One line per module. */
export type Register = (program: Command) => void;

export const commandModules: (() => Promise<{ register: Register }>)[] = [
  () => import('./demo.ts'),
  () => import('./sim.ts'),
  () => import('./poller.ts'),
  () => import('./worker.ts'),
  () => import('./notifier.ts'),
  () => import('./serve.ts'),
  () => import('./vms.ts'),
  () => import('./keys.ts'),
  () => import('./diagnose.ts'),
  () => import('./unlock.ts'),
  () => import('./incidents.ts'),
  () => import('./approve.ts'),
  () => import('./notifications.ts'),
];
