import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { VMLOCK_BIN } from '../../src/demo/processes.ts';
import type { Incident } from '../../src/incidents/model.ts';
import { REDIS_URL } from '../helpers/services.ts';
import { workerWorld, type WorkerWorld } from './worker-harness.ts';

/** The worker's commands as an operator runs them: diagnose, unlock, incidents, incident, approve. */
let w: WorkerWorld;
beforeAll(async () => {
  w = await workerWorld('wcli', { scenario: 'mixed' });
});
afterAll(async () => {
  await w?.close();
});

function vmlock(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const conn = ['--vcenter', w.sim.url, '--user', w.sim.user, '--vcenter-name', 'sim'];
  const usesVcenter = ['diagnose', 'unlock'].includes(args[0]!);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VMLOCK_BIN, ...args, ...(usesVcenter ? conn : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        VMLOCK_PASSWORD: w.sim.password,
        VMLOCK__redis__url: REDIS_URL,
        VMLOCK__redis__prefix: w.prefix,
        VMLOCK__http__enabled: 'false',
        VMLOCK__logging__level: 'warn',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vmlock worker commands', { timeout: 90_000 }, () => {
  it('diagnose prints facts, causes and plan, and changes nothing', async () => {
    await w.control.resetStats();
    const r = await vmlock('diagnose', 'nonboot-disk-key-missing', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as { diagnosis: { causes: { code: string }[] }; plan: { outcome: string; actions: { kind: string }[] } };
    expect(o.diagnosis.causes.map((c) => c.code)).toEqual(['nonboot-disk-key-missing']);
    expect(o.plan).toMatchObject({ outcome: 'remediate', actions: [{ kind: 'detachDisk' }, { kind: 'powerOn' }] });
    const stats = await w.control.stats();
    expect(stats.tasksStarted).toEqual({});
    const text = await vmlock('diagnose', 'nonboot-disk-key-missing');
    expect(text.stdout).toContain('boot disk: 2000 (bootOrder)');
    expect(text.stdout).toContain('(nothing was changed)');
  });

  it('unlock fixes the VM in the foreground and exits 0', async () => {
    const vm = await w.control.vm('host-rebooted');
    const r = await vmlock('unlock', 'host-rebooted');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/incident sim\.vm-\d+\.1: resolved/);
    expect((await w.control.stats()).tasksStarted[vm.moref]).toEqual({ CryptoUnlock_Task: 1 });
  });

  it('unlock --dry-run changes nothing, records the plan and exits 0 (it planned, as asked)', async () => {
    const r = await vmlock('unlock', 'stale-alarm', '--dry-run', '--json');
    expect(r.code).toBe(0);
    // Every notification of the dry-run (its escalation is severity info) is valid and queued.
    expect(r.stderr).not.toMatch(/could not queue the notification/);
    const o = JSON.parse(r.stdout) as { ended: string; incident: Incident };
    expect(o.ended).toBe('escalated');
    expect(o.incident.actions).toEqual([expect.objectContaining({ kind: 'acknowledgeAlarm', state: 'planned', dryRun: true })]);
    expect((await w.control.vm('stale-alarm')).triggeredAlarms.every((a) => !a.acknowledged)).toBe(true);
  });

  it('incidents --json lists incidents with id, vcenter, vm, state, causes, actions and timeline; --state filters', async () => {
    const r = await vmlock('incidents', '--json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Incident[];
    expect(list.map((i) => i.state)).toEqual(['resolved', 'escalated']);
    for (const i of list) {
      expect(Object.keys(i)).toEqual(expect.arrayContaining(['id', 'vcenter', 'vm', 'state', 'causes', 'actions', 'timeline']));
      expect(i.timeline.length).toBeGreaterThan(3);
    }
    const only = JSON.parse((await vmlock('incidents', '--json', '--state', 'escalated')).stdout) as Incident[];
    expect(only.map((i) => i.vm.name)).toEqual(['stale-alarm']);
    const one = await vmlock('incident', list[0]!.id, '--json');
    expect((JSON.parse(one.stdout) as Incident).id).toBe(list[0]!.id);
    const table = (await vmlock('incidents')).stdout.split('\n');
    expect(table[0]).toMatch(/^INCIDENT\s+STATE\s+VM\s+CAUSES\s+ACTIONS$/);
    expect(table.join('\n')).toContain('cryptoUnlock:succeeded');
  });

  it('names the problem on bad input: unknown VM, unknown state, approving a closed incident', async () => {
    const noVm = await vmlock('diagnose', 'no-such-vm');
    expect(noVm.code).toBe(2);
    expect(noVm.stderr).toContain('no VM "no-such-vm"');
    const badState = await vmlock('incidents', '--state', 'sleeping');
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain('--state must be one of');
    const closed = (JSON.parse((await vmlock('incidents', '--json')).stdout) as Incident[])[0]!;
    const appr = await vmlock('approve', closed.id);
    expect(appr.code).toBe(2);
    expect(appr.stderr).toContain('not awaiting approval');
    expect(`${noVm.stderr}${appr.stderr}`).not.toContain(w.sim.password);
  });
});
