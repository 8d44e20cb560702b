import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * The configuration file the bench hands its vmlock processes. The simulator's
 * password is not written here: the file names an environment variable and the
 * bench passes the value to its children only (SIM_PASSWORD_ENV).
 */
export const SIM_PASSWORD_ENV = 'VMLOCK_BENCH_SIM_PASSWORD';
export const BENCH_VCENTER = 'bench';

export interface VmlockConfigParams {
  simUrl: string;
  simUser: string;
  redisUrl: string;
  redisPrefix: string;
  amqpUrl: string;
  exchange: string;
  maxConcurrentTasks: number;
  workerConcurrency: number;
  /** Longer than any measuring window, so the idle figure is free of reconciliation. */
  reconcileInterval: string;
}

export function vmlockConfig(p: VmlockConfigParams): Record<string, unknown> {
  const vcenter: Record<string, unknown> = { name: BENCH_VCENTER, url: p.simUrl, user: p.simUser, passwordEnv: SIM_PASSWORD_ENV };
  if (p.simUrl.startsWith('https:')) vcenter.tls = { insecure: true }; // the simulator's self-signed certificate
  return {
    apiVersion: 'vmlock/v1alpha1',
    kind: 'Config',
    vcenters: [vcenter],
    redis: { url: p.redisUrl, prefix: p.redisPrefix },
    rabbitmq: { url: p.amqpUrl, exchange: p.exchange },
    policy: { maxConcurrentTasksPerVcenter: p.maxConcurrentTasks },
    poller: { reconcileInterval: p.reconcileInterval },
    worker: { concurrency: p.workerConcurrency },
    // Several processes of one kind run side by side; none needs its HTTP endpoint here.
    http: { enabled: false, port: 0 },
    logging: { level: 'warn' },
  };
}

/** Writes the file (mode 0600) and returns its path. */
export function writeVmlockConfig(dir: string, name: string, p: VmlockConfigParams): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(vmlockConfig(p)), { mode: 0o600 });
  return file;
}
