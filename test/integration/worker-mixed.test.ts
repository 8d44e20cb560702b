import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { startWorker, type RunningWorker } from '../../src/worker/index.ts';
import { NOTIFICATIONS_QUEUE, TRANSITIONS, type Incident, type Transition } from '../../src/incidents/model.ts';
import type { NotificationJob } from '../../src/notify/types.ts';
import { REDIS_URL } from '../helpers/services.ts';
import { silent, workerWorld, type WorkerWorld } from './worker-harness.ts';

/** vCenter task names the scenario uses, per vmlock action kind. */
const TASK_OF: Record<string, string> = { cryptoUnlock: 'CryptoUnlock_Task', detachDisk: 'ReconfigVM_Task', powerOn: 'PowerOnVM_Task', reload: 'reloadVirtualMachineFromPath_Task', acknowledgeAlarm: 'AcknowledgeAlarm' };

describe('worker against the simulator\'s mixed scenario', () => {
  let w: WorkerWorld;
  let worker: RunningWorker;
  let incidents: Map<string, Incident>;
  let expected: Awaited<ReturnType<WorkerWorld['control']['scenario']>>['vms'];

  beforeAll(async () => {
    w = await workerWorld('wmixed', { scenario: 'mixed' });
    expected = (await w.control.scenario()).vms;
    await w.control.resetStats();
    worker = await startWorker({ config: w.config({ policy: { kmsWaitTimeout: '2s' } }), logger: silent, tuning: { verify: { attempts: 5, delayMs: 200 } } });
    const ids = new Map<string, string>();
    for (const vm of expected) ids.set(vm.moref, await w.enqueue({ moref: vm.moref, name: vm.name }));
    const closed = await w.waitClosed([...ids.values()], 60_000);
    incidents = new Map(closed.map((i) => [i.vm.moref, i]));
  }, 90_000);

  afterAll(async () => {
    await worker?.stop();
    await w?.close();
  });

  it('ends every VM in the outcome its cause calls for, with that cause first', () => {
    const rows = expected.map((vm) => {
      const inc = incidents.get(vm.moref)!;
      const want = vm.expect.outcome === 'none' ? 'resolved' : vm.expect.outcome;
      return { vm: vm.name, outcome: inc.state, want, cause: inc.causes[0]?.code, wantCause: vm.expect.cause ?? 'stale-alarm' };
    });
    expect(rows.filter((r) => r.outcome !== r.want || r.cause !== r.wantCause)).toEqual([]);
  });

  it('started exactly the tasks each cause calls for, and no others', async () => {
    const stats = await w.control.stats();
    for (const vm of expected) {
      const started = stats.tasksStarted[vm.moref] ?? {};
      const wantTasks = (vm.expect.actions ?? []).filter((a) => a.endsWith('_Task'));
      expect({ vm: vm.name, started: Object.keys(started).sort() }).toEqual({ vm: vm.name, started: [...wantTasks].sort() });
      for (const n of Object.values(started)) expect(n).toBe(1);
    }
    expect(stats.destroyedFiles).toEqual([]);
  });

  it('records each action with its reason and result, and the detached disk\'s file and key', () => {
    for (const vm of expected) {
      const inc = incidents.get(vm.moref)!;
      const done = inc.actions.filter((a) => a.state === 'succeeded').map((a) => TASK_OF[a.kind]);
      for (const a of vm.expect.actions ?? []) expect({ vm: vm.name, done }).toEqual({ vm: vm.name, done: expect.arrayContaining([a]) });
      for (const a of inc.actions) expect(a.reason.length).toBeGreaterThan(5);
    }
    const nonboot = [...incidents.values()].find((i) => i.vm.name === 'nonboot-disk-key-missing')!;
    const detach = nonboot.actions.find((a) => a.kind === 'detachDisk')!;
    expect(detach.details).toMatchObject({ fileName: expect.stringContaining('.vmdk'), key: expect.any(String), fileKept: true });
  });

  it('tells a human what to do on every escalation', () => {
    for (const inc of incidents.values()) {
      if (inc.state === 'escalated') expect(inc.humanAction).toMatch(/vmlock unlock/);
    }
    const priv = [...incidents.values()].find((i) => i.vm.name === 'missing-privilege')!;
    expect(priv.humanAction).toContain('Cryptographer.RegisterVM');
  });

  it('queues the notifications of each incident in order: opened, diagnosed, ..., its outcome', async () => {
    const q = new Queue<NotificationJob>(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix: w.prefix });
    try {
      const jobs = await q.getJobs(['wait', 'delayed', 'prioritized', 'active', 'completed']);
      const byIncident = new Map<string, { ts: number; t: string }[]>();
      for (const j of jobs) {
        const e = j.data.event;
        const list = byIncident.get(e.data.incidentId) ?? [];
        list.push({ ts: j.timestamp, t: e.type.replace('com.vmlock.incident.', '') });
        byIncident.set(e.data.incidentId, list);
      }
      for (const inc of incidents.values()) {
        const ts = (byIncident.get(inc.id) ?? []).sort((a, b) => a.ts - b.ts || TRANSITIONS.indexOf(a.t as Transition) - TRANSITIONS.indexOf(b.t as Transition)).map((x) => x.t);
        expect(ts[0]).toBe('opened');
        expect(ts).toContain('diagnosed');
        expect(ts.at(-1)).toBe(inc.state);
      }
      const host = [...incidents.values()].find((i) => i.vm.name === 'host-rebooted')!;
      expect(byIncident.get(host.id)!.map((x) => x.t)).toEqual(expect.arrayContaining(['action-started', 'action-succeeded']));
    } finally {
      await q.close();
    }
  });

  it('keeps a timeline of facts, causes, plan and actions', () => {
    const inc = [...incidents.values()].find((i) => i.vm.name === 'host-rebooted')!;
    const types = inc.timeline.map((t) => t.type);
    for (const t of ['signal', 'facts', 'causes', 'plan', 'action']) expect(types).toContain(t);
  });
});
