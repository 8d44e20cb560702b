import { describe, expect, it } from 'vitest';
import { policySchema, type PolicyConfig } from '../../src/config/schema.ts';
import { diagnose } from '../../src/diagnosis/diagnose.ts';
import type { VmFacts } from '../../src/diagnosis/facts.ts';
import { planRemediation, type PlanContext } from '../../src/remediation/plan.ts';
import { humanActionFor } from '../../src/remediation/human-action.ts';
import { DATA, HOME, disk, facts, snapshot, status } from './diagnosis-fixtures.ts';

const policy = (p: Record<string, unknown> = {}): PolicyConfig => policySchema.parse(p);
const plan = (f: Partial<VmFacts>, p: Record<string, unknown> = {}, ctx: PlanContext = { wasPoweredOn: true }) => {
  const fx = facts(f);
  return planRemediation(diagnose(fx), fx, policy(p), ctx);
};
const dataGone = { keyStatuses: [status(HOME, true), status(DATA, false, 'KeyStateMissingInKMS')] };
const unlocked = snapshot({ cryptoState: 'unlocked', connectionState: 'connected' });

const cases: { name: string; f: Partial<VmFacts>; p?: Record<string, unknown>; ctx?: PlanContext; outcome: string; actions: string[]; approval?: string[] }[] = [
  { name: 'locked VM: unlock, power on (was on), acknowledge', f: {}, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn', 'acknowledgeAlarm:alarm-9'] },
  { name: 'powerOn previous and VM was off: no power-on', f: {}, ctx: { wasPoweredOn: false }, outcome: 'remediate', actions: ['cryptoUnlock', 'acknowledgeAlarm:alarm-9'] },
  { name: 'powerOn never', f: {}, p: { powerOn: 'never' }, outcome: 'remediate', actions: ['cryptoUnlock', 'acknowledgeAlarm:alarm-9'] },
  { name: 'powerOn always even if it was off', f: {}, p: { powerOn: 'always' }, ctx: { wasPoweredOn: false }, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn', 'acknowledgeAlarm:alarm-9'] },
  { name: 'already powered on: no power-on', f: { snapshot: snapshot({ powerState: 'poweredOn' }) }, p: { powerOn: 'always' }, outcome: 'remediate', actions: ['cryptoUnlock', 'acknowledgeAlarm:alarm-9'] },
  { name: 'acknowledgeAlarm off', f: {}, p: { acknowledgeAlarm: false }, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn'] },
  { name: 'already acknowledged alarm is left alone', f: { snapshot: snapshot({ triggeredAlarmState: [{ ...snapshot().triggeredAlarmState[0]!, acknowledged: true }] }) }, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn'] },
  { name: 'locked with a non-boot disk key gone: unlock, then detach, then power on', f: dataGone, outcome: 'remediate', actions: ['cryptoUnlock', 'detachDisk:2001', 'powerOn', 'acknowledgeAlarm:alarm-9'] },
  { name: 'unlocked with a non-boot disk key gone: detach only', f: { ...dataGone, snapshot: unlocked }, outcome: 'remediate', actions: ['detachDisk:2001', 'powerOn', 'acknowledgeAlarm:alarm-9'] },
  { name: 'detachNonBootDisks false escalates', f: { ...dataGone, snapshot: unlocked }, p: { detachNonBootDisks: false }, outcome: 'escalate', actions: [] },
  { name: 'stale alarm: acknowledge and resolve', f: { snapshot: unlocked }, outcome: 'resolve', actions: ['acknowledgeAlarm:alarm-9'] },
  { name: 'stale alarm without acknowledging', f: { snapshot: unlocked }, p: { acknowledgeAlarm: false }, outcome: 'resolve', actions: [] },
  { name: 'VM gone resolves with nothing to do', f: { snapshot: null }, outcome: 'resolve', actions: [] },
  { name: 'KMS unreachable waits', f: { keyStatuses: [status(HOME, false, 'KeyStateClusterUnreachable'), status(DATA, false, 'KeyStateClusterUnreachable')] }, outcome: 'wait-kms', actions: [] },
  { name: 'home key missing escalates', f: { keyStatuses: [status(HOME, false, 'KeyStateMissingInKMS'), status(DATA, true)] }, outcome: 'escalate', actions: [] },
  { name: 'escalation wins over a KMS wait', f: { keyStatuses: [status(HOME, false, 'KeyStateClusterUnreachable'), status(DATA, true)], canRegisterVm: false }, outcome: 'escalate', actions: [] },
  { name: 'requireApproval lists the held kinds', f: dataGone, p: { requireApproval: ['detachDisk', 'reload'] }, outcome: 'remediate', actions: ['cryptoUnlock', 'detachDisk:2001', 'powerOn', 'acknowledgeAlarm:alarm-9'], approval: ['detachDisk'] },
  { name: 'no key status API (before 6.7 U2): unlock once, power on, acknowledge', f: { keyStatusUnavailable: true, keyStatuses: [] }, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn', 'acknowledgeAlarm:alarm-9'] },
  { name: 'reload approval covers an unlock with reload fallback', f: {}, p: { reloadFallback: true, requireApproval: ['reload'] }, outcome: 'remediate', actions: ['cryptoUnlock', 'powerOn', 'acknowledgeAlarm:alarm-9'], approval: ['cryptoUnlock'] },
];

describe('planRemediation per policy', () => {
  it.each(cases)('$name', ({ f, p, ctx, outcome, actions, approval }) => {
    const pl = plan(f, p, ctx);
    expect(pl.outcome).toBe(outcome);
    expect(pl.actions.map((a) => a.id)).toEqual(actions);
    expect(pl.needsApproval).toEqual(approval ?? []);
    for (const a of pl.actions) expect(a.reason.length).toBeGreaterThan(5);
  });

  it('dry-run plans the same actions and marks the plan', () => {
    const pl = plan(dataGone, { dryRun: true });
    expect(pl.dryRun).toBe(true);
    expect(pl.actions.map((a) => a.kind)).toEqual(['cryptoUnlock', 'detachDisk', 'powerOn', 'acknowledgeAlarm']);
  });

  it('records file and key of a disk to detach', () => {
    const a = plan(dataGone).actions.find((x) => x.kind === 'detachDisk');
    expect(a).toMatchObject({ deviceKey: 2001, fileName: '[ds1] vm-1/vm-1_1.vmdk', key: 'kms-1/k-data' });
  });

  it('adds the reload fallback on the VM\'s own path only when policy allows', () => {
    expect(plan({}).actions[0]!.reloadFallback).toBeUndefined();
    expect(plan({}, { reloadFallback: true }).actions[0]!.reloadFallback).toEqual({ vmPathName: '[ds1] vm-1/vm-1.vmx' });
  });

  it('without key statuses the re-push says so and the human action points at the KMS', () => {
    const pl = plan({ keyStatusUnavailable: true, keyStatuses: [] }, { reloadFallback: true });
    expect(pl.actions[0]).toMatchObject({ kind: 'cryptoUnlock', reloadFallback: { vmPathName: '[ds1] vm-1/vm-1.vmx' } });
    expect(pl.actions[0]!.reason).toMatch(/cannot report key status.*re-pushed once/);
    const cause = diagnose(facts({ keyStatusUnavailable: true, keyStatuses: [] })).causes[0]!;
    expect(humanActionFor(cause, 'app-1', 'sim')).toBe(
      'vCenter sim cannot report key status (before vSphere 6.7 U2) and re-pushing the keys did not fix VM app-1: check in key provider kms-1 that its keys (home key k-home) exist and are active (KMS admin), then run `vmlock unlock app-1`',
    );
  });

  it('escalation says concretely what a human must do', () => {
    expect(plan({ keyStatuses: [status(HOME, false, 'KeyStateMissingInKMS'), status(DATA, true)] }).humanAction).toBe(
      'Restore key k-home in key provider kms-1 (KMS admin), then run `vmlock unlock app-1`',
    );
    expect(plan({ canRegisterVm: false }).humanAction).toContain('Grant Cryptographer.RegisterVM');
    expect(plan({ canRegisterVm: false }).humanAction).toContain('group-v3');
    const boot = plan({ snapshot: snapshot({ disks: [disk(2000, 0, DATA), disk(2001, 1)] }), ...dataGone });
    expect(boot.outcome).toBe('escalate');
    expect(boot.humanAction).toContain('boot disk');
  });
});
