import { describe, expect, it } from 'vitest';
import { buildReport, formatReport, type BuildReportInput } from '../../src/demo/report.ts';
import { parseScenario } from '../../src/demo/scenario.ts';
import { progressLine } from '../../src/demo/progress.ts';
import { redactSecrets } from '../../src/demo/processes.ts';
import type { Incident } from '../../src/incidents/model.ts';
import type { ConsumedNotification } from '../../src/demo/notifications.ts';

const t0 = '2026-01-01T00:00:00.000Z';
function incident(id: string, moref: string, state: Incident['state'], causes: string[], actions: [string, 'succeeded' | 'failed'][] = []): Incident {
  return {
    id,
    vcenter: 'demo-1',
    vm: { moref, name: `name-${moref}` },
    state,
    openedAt: t0,
    ...(state === 'resolved' || state === 'escalated' ? { closedAt: '2026-01-01T00:00:02.500Z' } : {}),
    causes: causes.map((code) => ({ code, message: code })),
    advisories: [],
    actions: actions.map(([kind, s]) => ({ kind, reason: 'because', state: s })),
    signals: 1,
    timeline: [],
  };
}
const note = (incidentId: string, transition: string, problems: string[] = []): ConsumedNotification => ({
  id: `${incidentId}:${transition}`,
  type: `com.vmlock.incident.${transition}`,
  routingKey: `incident.${transition}`,
  incidentId,
  transition,
  severity: 'info',
  problems,
});

const scenario = parseScenario({
  name: 'mixed',
  vms: [
    { moref: 'vm-1', name: 'web', expect: { outcome: 'resolved', cause: 'keys-missing-on-host', actions: ['CryptoUnlock_Task'] } },
    { moref: 'vm-2', name: 'db', expect: { outcome: 'escalated', cause: 'home-key-missing-in-kms' } },
    { moref: 'vm-3', name: 'idle' },
  ],
});

function input(over: Partial<BuildReportInput>): BuildReportInput {
  return {
    scenario: 'mixed',
    vcenter: 'demo-1',
    redisPrefix: 'p',
    exchange: 'vmlock.events',
    startedAt: new Date(t0),
    endedAt: new Date('2026-01-01T00:00:10.000Z'),
    timedOut: false,
    expected: scenario.vms,
    incidents: [],
    notifications: [],
    ignoredNotifications: 0,
    simulator: { detachedFiles: [], destroyedFiles: [] },
    logDir: '/tmp/x',
    configFile: '/tmp/x/config.yaml',
    ...over,
  };
}

describe('demo report', () => {
  it('reads the scenario expectations, with VMs expecting nothing as outcome none', () => {
    expect(scenario.vms.map((v) => [v.moref, v.outcome, v.causes])).toEqual([
      ['vm-1', 'resolved', ['keys-missing-on-host']],
      ['vm-2', 'escalated', ['home-key-missing-in-kms']],
      ['vm-3', 'none', []],
    ]);
    expect(scenario.vms[0]?.actions).toEqual(['cryptoUnlock']); // vim25 method names map to action kinds
    expect(() => parseScenario({ vms: [{ moref: 'vm-9', expect: { outcome: 'fixed' } }] })).toThrow(/vm-9.*"fixed"/);
    expect(() => parseScenario({ scenario: 'x' })).toThrow(/no "vms" array/);
  });

  it('is ok when every VM ends as expected and each closed incident sent its final notification', () => {
    const incidents = [
      incident('demo-1.vm-1.1', 'vm-1', 'resolved', ['keys-missing-on-host'], [['cryptoUnlock', 'succeeded']]),
      incident('demo-1.vm-2.1', 'vm-2', 'escalated', ['home-key-missing-in-kms']),
    ];
    const r = buildReport(input({ incidents, notifications: [note('demo-1.vm-1.1', 'opened'), note('demo-1.vm-1.1', 'resolved'), note('demo-1.vm-2.1', 'escalated')] }));
    expect(r.ok).toBe(true);
    expect(r.summary).toMatchObject({ vms: 3, asExpected: 3, mismatched: 0 });
    expect(r.vms[0]).toMatchObject({ outcome: 'resolved', durationMs: 2500, actions: [{ kind: 'cryptoUnlock', state: 'succeeded' }] });
    expect(r.notifications).toMatchObject({ consumed: 3, byTransition: { opened: 1, resolved: 1, escalated: 1 }, missingTerminal: [] });
    expect(formatReport(r)).toMatch(/RESULT: every VM ended as the scenario expects/);
  });

  it('fails on a wrong outcome, a missing cause, an unexpected incident, a lost final notification or a destroyed disk', () => {
    const incidents = [
      incident('demo-1.vm-1.1', 'vm-1', 'escalated', ['kms-unreachable']),
      incident('demo-1.vm-2.1', 'vm-2', 'escalated', ['home-key-missing-in-kms']),
      incident('demo-1.vm-3.1', 'vm-3', 'resolved', ['stale-alarm']),
    ];
    const r = buildReport(input({ incidents, notifications: [note('demo-1.vm-1.1', 'escalated', ['/data: bad'])], simulator: { detachedFiles: [], destroyedFiles: ['[ds1] vm-2/vm-2_1.vmdk'] } }));
    expect(r.ok).toBe(false);
    expect(r.vms[0]?.problems).toEqual([
      'outcome escalated, expected resolved',
      'cause keys-missing-on-host not found (diagnosed: kms-unreachable)',
      'actions done [], expected [cryptoUnlock]',
    ]);
    expect(r.vms[2]?.problems).toEqual(['outcome resolved, expected none']);
    expect(r.notifications.missingTerminal.sort()).toEqual(['demo-1.vm-2.1', 'demo-1.vm-3.1']);
    expect(r.notifications.invalid).toEqual([{ id: 'demo-1.vm-1.1:escalated', problems: ['/data: bad'] }]);
    expect(r.failure).toMatch(/destroyed: \[ds1\] vm-2\/vm-2_1.vmdk/);
    const text = formatReport(r);
    expect(text).toContain('MISMATCH: outcome escalated, expected resolved');
    expect(text).toMatch(/RESULT: FAILED/);
  });

  it('uses the newest incident of a VM and fails a timed-out run', () => {
    const incidents = [incident('demo-1.vm-1.2', 'vm-1', 'diagnosing', []), incident('demo-1.vm-1.1', 'vm-1', 'resolved', ['keys-missing-on-host'])];
    const r = buildReport(input({ incidents, timedOut: true, failure: 'timed out after 60 s' }));
    expect(r.vms[0]?.outcome).toBe('diagnosing');
    expect(r.ok).toBe(false);
    expect(formatReport(r)).toContain('TIMED OUT');
  });

  it('draws a progress line of incidents by state', () => {
    expect(progressLine({ elapsedMs: 12_300, byState: { resolved: 2, diagnosing: 1 }, expected: 8, notifications: 5 })).toBe(
      '[  12s] 2/8 done: diagnosing 1 | resolved 2; notifications 5',
    );
    expect(progressLine({ elapsedMs: 3_000, byState: { 'waiting-kms': 1, resolved: 9 }, expected: 10, notifications: 30 })).toMatch(
      /^\[ {3}3s\] 9\/10 done: waiting-kms 1 \| resolved 9; notifications 30 \(waiting-kms: the key provider is unreachable; retried until policy\.kmsWaitTimeout, then escalated\)$/,
    );
  });

  it('keeps passwords and tokens out of the child logs', () => {
    expect(redactSecrets('{"url":"http://x/sdk","user":"u","password":"p\\"w","token":"t"}')).toBe(
      '{"url":"http://x/sdk","user":"u","password":"[redacted]","token":"[redacted]"}',
    );
  });
});
