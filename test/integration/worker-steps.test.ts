import { afterEach, describe, expect, it } from 'vitest';
import { approveIncident } from '../../src/incidents/approval.ts';
import { startWorker, type RunningWorker } from '../../src/worker/index.ts';
import { silent, workerWorld, type WorkerWorld } from './worker-harness.ts';

/**
 * Worker behaviours beyond the plain scenario: unlock → detach → power on in
 * that order on one VM, approval, dry-run, a KMS outage that ends, transient
 * faults, and the per-vCenter task limit.
 */
let w: WorkerWorld | undefined;
let worker: RunningWorker | undefined;
afterEach(async () => {
  await worker?.stop();
  await w?.close();
  worker = undefined;
  w = undefined;
});

const tuning = { verify: { attempts: 10, delayMs: 100 }, inflightGraceMs: 2_000 };
async function vmNamed(world: WorkerWorld, name: string) {
  const vm = await world.control.vm(name);
  return { moref: vm.moref, name: vm.name };
}

describe('worker steps', () => {
  it('unlocks first, then detaches the non-boot disk (file kept), then powers on: each task once', async () => {
    w = await workerWorld('wsteps', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'nonboot-disk-key-missing');
    await w.control.lock([vm.moref]);
    await w.control.resetStats();
    worker = await startWorker({ config: w.config(), logger: silent, tuning });
    const id = await w.enqueue(vm);
    const [inc] = await w.waitClosed([id], 30_000);
    expect(inc!.state).toBe('resolved');
    expect(inc!.actions.map((a) => `${a.kind}:${a.state}`)).toEqual(['cryptoUnlock:succeeded', 'detachDisk:succeeded', 'powerOn:succeeded', 'acknowledgeAlarm:skipped']);
    const stats = await w.control.stats();
    expect(stats.tasksStarted[vm.moref]).toEqual({ CryptoUnlock_Task: 1, ReconfigVM_Task: 1, PowerOnVM_Task: 1 });
    expect(stats.detachedFiles).toEqual([expect.stringContaining('nonboot-disk-key-missing_1.vmdk')]);
    expect(stats.destroyedFiles).toEqual([]);
    const after = await w.control.vm(vm.moref);
    expect(after).toMatchObject({ cryptoState: 'unlocked', powerState: 'poweredOn' });
    expect(after.disks.map((d) => d.key)).toEqual([2000]);
  });

  it('waits in awaiting-approval (job delayed) until approved, then acts and records who approved', async () => {
    w = await workerWorld('wappr', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'host-rebooted');
    worker = await startWorker({ config: w.config({ policy: { requireApproval: ['cryptoUnlock'] } }), logger: silent, tuning });
    const id = await w.enqueue(vm);
    for (let i = 0; i < 100 && (await w.store.require(id)).state !== 'awaiting-approval'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await w.store.require(id)).state).toBe('awaiting-approval');
    expect(await (await w.queue.getJob(id))!.isDelayed()).toBe(true);
    expect((await w.control.stats()).tasksStarted[vm.moref]).toBeUndefined();
    await approveIncident(w.store, w.queue, id, 'alice');
    const [inc] = await w.waitClosed([id], 30_000);
    expect(inc).toMatchObject({ state: 'resolved', approvedBy: 'alice' });
    expect((await w.control.stats()).tasksStarted[vm.moref]).toEqual({ CryptoUnlock_Task: 1 });
  });

  it('dry-run records the plan as dry-run actions, escalates with what to apply, and changes nothing', async () => {
    w = await workerWorld('wdry', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'nonboot-disk-key-missing');
    await w.control.resetStats();
    worker = await startWorker({ config: w.config({ policy: { dryRun: true } }), logger: silent, tuning });
    const id = await w.enqueue(vm);
    const [inc] = await w.waitClosed([id], 30_000);
    expect(inc!.state).toBe('escalated');
    expect(inc!.humanAction).toMatch(/^dry-run/);
    expect(inc!.actions.map((a) => [a.kind, a.state, a.dryRun])).toEqual([
      ['detachDisk', 'planned', true],
      ['powerOn', 'planned', true],
    ]);
    const stats = await w.control.stats();
    expect(stats.tasksStarted).toEqual({});
    expect(stats.calls.AcknowledgeAlarm ?? 0).toBe(0);
  });

  it('waits out a KMS outage (waiting-kms), re-diagnoses when it ends, and unlocks', async () => {
    w = await workerWorld('wkms', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'kms-unreachable');
    worker = await startWorker({ config: w.config({ policy: { kmsWaitTimeout: '60s' } }), logger: silent, tuning });
    const id = await w.enqueue(vm);
    for (let i = 0; i < 100 && (await w.store.require(id)).state !== 'waiting-kms'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await w.store.require(id)).state).toBe('waiting-kms');
    await w.control.kmsCluster('kms-remote', 'up');
    const [inc] = await w.waitClosed([id], 40_000);
    expect(inc!.state).toBe('resolved');
    expect(inc!.causes.map((c) => c.code)).toEqual(['keys-missing-on-host']);
    expect(inc!.timeline.filter((t) => t.type === 'causes').length).toBeGreaterThan(1);
  });

  it('escalates a KMS outage after kmsWaitTimeout with what a human must do', async () => {
    w = await workerWorld('wkmsto', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'kms-unreachable');
    worker = await startWorker({ config: w.config({ policy: { kmsWaitTimeout: '1s' } }), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('escalated');
    expect(inc!.humanAction).toContain('kms-remote');
  });

  it('retries a transient fault with back-off and then succeeds', async () => {
    w = await workerWorld('wtrans', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'host-rebooted');
    await w.control.injectFault({ method: 'CryptoUnlock_Task', fault: 'SystemError', count: 2 });
    worker = await startWorker({ config: w.config(), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('resolved');
    expect(inc!.timeline.filter((t) => t.message.startsWith('transient problem')).length).toBe(2);
    expect((await w.control.stats()).tasksStarted[vm.moref]).toEqual({ CryptoUnlock_Task: 1 });
  });

  it('escalates at once on a permanent fault of a task, naming it', async () => {
    w = await workerWorld('wperm', { scenario: 'mixed' });
    const vm = await vmNamed(w, 'host-rebooted');
    await w.control.injectFault({ method: 'CryptoUnlock_Task', fault: 'InvalidState', count: 5 });
    worker = await startWorker({ config: w.config(), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('escalated');
    expect(inc!.actions[0]).toMatchObject({ kind: 'cryptoUnlock', state: 'failed', error: expect.stringContaining('InvalidState') });
    expect((await w.control.stats()).calls.CryptoUnlock_Task).toBe(1);
  });

  it('on vCenter 6.5 (no CryptoUnlock_Task) reloads the VM from its own path when policy.reloadFallback allows', async () => {
    w = await workerWorld('w65', { scenario: 'mixed', apiVersion: '6.5' });
    const vm = await vmNamed(w, 'host-rebooted');
    const path = (await w.control.vm(vm.moref)).disks[0]!.fileName.replace(/\/[^/]*$/, '');
    worker = await startWorker({ config: w.config({ policy: { reloadFallback: true } }), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('resolved');
    expect(inc!.actions[0]).toMatchObject({ kind: 'reload', state: 'succeeded' });
    expect(inc!.timeline.some((t) => t.message.includes('reloadVirtualMachineFromPath_Task on ' + path))).toBe(true);
    expect((await w.control.stats()).tasksStarted[vm.moref]).toEqual({ reloadVirtualMachineFromPath_Task: 1 });
    // 6.5 has no QueryCryptoKeyStatus: asked once, then diagnosed without key statuses.
    expect(inc!.causes.map((c) => c.code)).toEqual(['key-status-unavailable']);
    expect((await w.control.stats()).calls.QueryCryptoKeyStatus ?? 0).toBeLessThanOrEqual(1);
  });

  it('on vCenter 6.5 with the home key gone from the KMS: one harmless reload, then escalates pointing at the KMS', async () => {
    w = await workerWorld('w65k', { scenario: 'mixed', apiVersion: '6.5' });
    const vm = await vmNamed(w, 'home-key-missing-in-kms');
    worker = await startWorker({ config: w.config({ policy: { reloadFallback: true } }), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('escalated');
    expect(inc!.causes.map((c) => c.code)).toEqual(['key-status-unavailable']);
    expect(inc!.actions[0]).toMatchObject({ kind: 'cryptoUnlock', state: 'failed', error: expect.stringContaining('still locked') });
    expect(inc!.humanAction).toMatch(/cannot report key status .* check in key provider \S+ that its keys .* exist and are active/);
    const stats = await w.control.stats();
    expect(stats.tasksStarted[vm.moref]).toEqual({ reloadVirtualMachineFromPath_Task: 1 });
    expect(stats.detachedFiles).toEqual([]);
    expect((await w.control.vm(vm.moref)).cryptoState).toBe('locked');
  });

  it('on vCenter 6.5 without reloadFallback escalates, naming the missing method', async () => {
    w = await workerWorld('w65n', { scenario: 'mixed', apiVersion: '6.5' });
    const vm = await vmNamed(w, 'host-rebooted');
    worker = await startWorker({ config: w.config(), logger: silent, tuning });
    const [inc] = await w.waitClosed([await w.enqueue(vm)], 30_000);
    expect(inc!.state).toBe('escalated');
    expect(inc!.actions[0]!.error).toMatch(/MethodNotFound|CryptoUnlock/);
    expect(inc!.humanAction).toContain('policy.reloadFallback');
    expect((await w.control.stats()).tasksStarted[vm.moref]).toBeUndefined();
  });

  it('never runs more than maxConcurrentTasksPerVcenter tasks at once across two workers', async () => {
    w = await workerWorld('wsem', { scenario: 'storm', vms: 60, taskDurationsMs: { CryptoUnlock_Task: 150 } });
    const locked = (await w.control.vms()).filter((v) => v.cryptoState === 'locked');
    expect(locked.length).toBeGreaterThan(10);
    await w.control.resetStats();
    const config = w.config({ policy: { maxConcurrentTasksPerVcenter: 3, acknowledgeAlarm: false }, worker: { concurrency: 16, attempts: 5, backoff: '200ms' } });
    worker = await startWorker({ config, logger: silent, tuning });
    const second = await startWorker({ config, logger: silent, tuning });
    try {
      // A storm: every lock queued at once.
      const ids = await Promise.all(locked.map((v) => w!.enqueue({ moref: v.moref, name: v.name })));
      const closed = await w.waitClosed(ids, 60_000);
      expect(closed.filter((i) => i.state !== 'resolved').map((i) => `${i.vm.name}:${i.state}:${i.causes[0]?.code}`)).toEqual([]);
      const stats = await w.control.stats();
      expect(stats.peakConcurrentTasks).toBeLessThanOrEqual(3);
      expect(stats.peakConcurrentTasks).toBeGreaterThan(1);
      // Few calls per incident: batched and cached reads, one unlock each. Not counted: each
      // process's session set-up and the task waits (they ride the client's shared collector).
      const setup = new Set(['RetrieveServiceContent', 'Login', 'CreatePropertyCollector', 'CreateFilter', 'WaitForUpdatesEx']);
      const perIncident = Object.entries(stats.calls).filter(([m]) => !setup.has(m)).reduce((n, [, c]) => n + c, 0) / locked.length;
      expect(perIncident).toBeLessThanOrEqual(3);
    } finally {
      await second.stop();
    }
  });
});
