import { SimControl } from '../../src/simulator/control-client.ts';
import { VsphereClient } from '../../src/vsphere/client.ts';
import type { ChildSet } from '../lib/children.ts';
import type { PhaseEnv } from '../lib/phase.ts';
import { startSimulatorProcess } from '../lib/simulator.ts';

/**
 * The storm's measured reference: the same reboot on a fresh simulator with the
 * same options, unlocked by the simplest possible client (C loops of
 * CryptoUnlock_Task + waitForTask, no detection, no diagnosis, no Redis). On a
 * noisy machine this shows what the simulator and the cores allowed in this
 * very run, beside the arithmetic bound ceil(N / C) x task duration.
 */
export async function runStormBaseline(env: PhaseEnv, children: ChildSet, simOptions: Record<string, unknown>): Promise<number> {
  const o = env.opts;
  const sim = await startSimulatorProcess(children, env.repoRoot, 'storm-baseline-simulator', simOptions);
  const api = new SimControl(sim.controlUrl);
  const client = new VsphereClient({ name: 'baseline', url: sim.url, user: sim.user, password: sim.password, apiVersion: '8.0.3.0' });
  try {
    await client.connect();
    const vms = await api.vms();
    const hosts = [...new Set(vms.map((v) => v.host))];
    const queue = vms.map((v) => ({ type: 'VirtualMachine', value: v.moref }));
    const t0 = Date.now();
    await Promise.all(hosts.map((h) => api.rebootHost(h)));
    const loop = async (): Promise<void> => {
      for (let vm = queue.shift(); vm; vm = queue.shift()) {
        await client.waitForTask(await client.cryptoUnlock(vm), { timeoutMs: 120_000 });
      }
    };
    await Promise.all(Array.from({ length: o.taskConcurrency }, loop));
    const elapsedMs = Date.now() - t0;
    const locked = (await api.stats()).vmsByState.locked;
    if (locked !== 0) throw new Error(`storm baseline: ${locked} VMs still locked after every unlock task succeeded`);
    return elapsedMs;
  } finally {
    await client.close().catch(() => undefined);
    await children.stop(sim.child);
  }
}
