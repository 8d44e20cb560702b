import type { BenchOptions } from './args.ts';
import type { ChildSet } from './children.ts';
import type { SimControl } from '../../src/simulator/control-client.ts';
import type { IncidentWatch } from './incidents.ts';
import { waitUntil } from './wait.ts';

/** What every phase gets from run.ts. */
export interface PhaseEnv {
  repoRoot: string;
  /** This run's scratch directory: configs and child logs. */
  tmpDir: string;
  /** Unique per run; phases derive their Redis prefix and exchange from it. */
  runId: string;
  opts: BenchOptions;
  log: (msg: string) => void;
  /** A phase creates its own ChildSet and registers it here, so Ctrl-C stops its children too. */
  newChildSet: () => ChildSet;
}

/**
 * Proves the whole pipeline is up before anything is timed: locks one VM and
 * waits until vmlock has opened its incident (and, when workers run, closed it).
 * The VM must not have had an incident before. The first start reads the whole
 * inventory, so the time-out is generous.
 */
export async function canary(
  api: SimControl,
  watch: IncidentWatch,
  children: ChildSet,
  moref: string,
  opts: { waitForClose: boolean; timeoutMs: number },
): Promise<void> {
  await api.lock([moref]);
  let id: string | null = null;
  await waitUntil(async () => (id = await watch.latestId(moref)) !== null, {
    what: `vmlock to open an incident for the canary VM ${moref}`,
    timeoutMs: opts.timeoutMs,
    intervalMs: 100,
    check: () => children.assertAlive(),
  });
  if (!opts.waitForClose) return;
  await waitUntil(async () => (await watch.openId(moref)) === null, {
    what: `the canary incident ${id ?? ''} to close`,
    timeoutMs: opts.timeoutMs,
    intervalMs: 100,
    check: () => children.assertAlive(),
  });
}

/** Waits until no incident is open and no job is pending (checked twice, 300 ms apart). */
export async function quiesce(watch: IncidentWatch, children: ChildSet, what: string, timeoutMs: number): Promise<void> {
  let last = '';
  let calmRounds = 0;
  await waitUntil(
    async () => {
      const [open, pending] = await Promise.all([watch.openCount(), watch.pendingJobs()]);
      last = `${open} open incidents, ${pending} pending jobs`;
      calmRounds = open === 0 && pending === 0 ? calmRounds + 1 : 0;
      return calmRounds >= 2;
    },
    { what, timeoutMs, intervalMs: 300, check: () => children.assertAlive(), describe: () => last },
  );
}
