import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl } from '../../src/simulator/index.ts';
import { SoapProbe, viewSpec } from '../../src/simulator/soap-probe.ts';

const logger = createLogger({ level: 'silent' });

describe('simulator storm scenario, task cap and scale', () => {
  it('storm: every VM locked at start with its key in the KMS; unlocks run at most taskConcurrency at once', async () => {
    const sim = await startSimulator({ scenario: 'storm', vms: 60, taskConcurrency: 4, taskDurationsMs: { CryptoUnlock_Task: 30 }, logger });
    try {
      const ctl = new SimControl(sim.controlUrl);
      const stats = await ctl.stats();
      expect(stats.vmsByState).toMatchObject({ total: 60, locked: 60, withAlarm: 60 });
      const scenario = await ctl.scenario();
      expect(scenario.vms).toHaveLength(60);
      expect(scenario.vms.every((v) => v.expect.outcome === 'resolved' && v.expect.cause === 'keys-missing-on-host')).toBe(true);

      const p = new SoapProbe(sim.url);
      await p.login(sim.user, sim.password);
      const vms = await ctl.vms();
      await Promise.all(vms.map((v) => p.call('CryptoUnlock_Task', 'VirtualMachine', v.moref)));
      for (let i = 0; i < 400 && (await ctl.stats()).vmsByState.locked > 0; i++) await new Promise((r) => setTimeout(r, 25));
      const after = await ctl.stats();
      expect(after.vmsByState.locked).toBe(0);
      expect(after.peakConcurrentTasks).toBe(4);
      expect(after.runningTasks).toBe(0);
      expect(Object.values(after.tasksStarted).every((m) => m.CryptoUnlock_Task === 1)).toBe(true);
      expect(Object.keys(after.tasksStarted)).toHaveLength(60);
      // /_sim/tasks: each unlock's times; never more than 4 running at any start.
      const tasks = await ctl.tasks('CryptoUnlock_Task');
      expect(tasks).toHaveLength(60);
      expect(new Set(tasks.map((t) => t.vm))).toEqual(new Set(vms.map((v) => v.moref)));
      for (const t of tasks) {
        expect(t.state).toBe('success');
        expect(t.startTime!).toBeGreaterThanOrEqual(t.queueTime);
        expect(t.completeTime! - t.startTime!).toBeGreaterThanOrEqual(29);
        const runningAtStart = tasks.filter((o) => o.startTime! <= t.startTime! && o.completeTime! > t.startTime!).length;
        expect(runningAtStart).toBeLessThanOrEqual(4);
      }
      expect(await ctl.tasks('PowerOnVM_Task')).toEqual([]);
    } finally {
      await sim.stop();
    }
  });

  // Memory note: at 10,000 VMs the simulator's heap stays far below 300 MB
  // (about 45 MB after start, measured on Node 20); this test guards that
  // bound and that a full 10k-VM read works in pages.
  it('holds 10,000 VMs within the memory budget and pages a full read', async () => {
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const sim = await startSimulator({ scenario: 'storm', vms: 10_000, logger });
    try {
      const grown = process.memoryUsage().heapUsed - before;
      expect(grown).toBeLessThan(300 * 1024 * 1024);
      const p = new SoapProbe(sim.url);
      await p.login(sim.user, sim.password);
      const view = await p.containerView('VirtualMachine');
      const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${viewSpec(view, 'VirtualMachine', ['runtime.cryptoState'])}</specSet><options><maxObjects>5000</maxObjects></options>`);
      expect((a.text.match(/<objects>/g) ?? []).length).toBe(5000);
      const token = (a.body.returnval as { token: string }).token;
      const b = await p.call('ContinueRetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<token>${token}</token>`);
      expect((b.text.match(/<objects>/g) ?? []).length).toBe(5000);
      expect(b.text).not.toContain('<token>');
    } finally {
      await sim.stop();
    }
  });
});
