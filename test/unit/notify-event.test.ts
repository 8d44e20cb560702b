import { describe, it, expect } from 'vitest';
import { TRANSITIONS, type Incident } from '../../src/incidents/model.ts';
import {
  buildNotificationEvent,
  messageIdOf,
  jobIdOf,
  sanitizeSource,
  severityOf,
  notificationProblems,
  toAmqpMessage,
  formatNotificationLine,
  backoffDelay,
  transitionOfType,
  type IncidentNotification,
} from '../../src/notify/index.ts';
import { PayloadError } from '../../src/errors.ts';

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'sim.vm-42.1',
    vcenter: 'sim',
    vm: { moref: 'vm-42', name: 'web-01' },
    state: 'remediating',
    openedAt: '2026-12-03T10:00:00.000Z',
    causes: [{ code: 'home-key-missing-in-kms', message: 'key k-1 is gone from the KMS', keyId: 'k-1' }],
    advisories: [],
    actions: [{ kind: 'cryptoUnlock', reason: 'keys are back on the KMS', state: 'started', startedAt: '2026-12-03T10:00:05.000Z' }],
    signals: 2,
    timeline: [{ at: '2026-12-03T10:00:00.000Z', type: 'signal', message: 'cryptoState=locked' }],
    ...over,
  };
}

function note(over: Partial<IncidentNotification> = {}): IncidentNotification {
  return { transition: 'action-started', incident: incident(), vcenterSource: 'vmlock/vcenter/sim', summary: 'CryptoUnlock_Task started', at: '2026-12-03T10:00:05.000Z', discriminator: '0', ...over };
}

describe('notification events', () => {
  it('builds a CloudEvent with a stable id, type, subject and data', () => {
    const ev = buildNotificationEvent(note());
    expect(ev).toMatchObject({
      specversion: '1.0',
      id: 'sim.vm-42.1/action-started/0',
      source: 'vmlock/vcenter/sim',
      type: 'com.vmlock.incident.action-started',
      subject: 'vm-42',
      time: '2026-12-03T10:00:05.000Z',
      datacontenttype: 'application/json',
      severity: 'info',
    });
    expect(ev.data).toMatchObject({ incidentId: 'sim.vm-42.1', transition: 'action-started', state: 'remediating', vm: { name: 'web-01', moref: 'vm-42' }, discriminator: '0' });
    expect(ev.data.actions[0]).toMatchObject({ kind: 'cryptoUnlock', state: 'started' });
    expect(notificationProblems(ev)).toEqual([]);
    // Same transition, same id: consumers and the outbox drop the second.
    expect(buildNotificationEvent(note()).id).toBe(ev.id);
    expect(buildNotificationEvent(note({ discriminator: '1' })).id).not.toBe(ev.id);
    // The timeline stays in Redis; it is not sent.
    expect(JSON.stringify(ev)).not.toContain('timeline');
  });

  it('makes a valid message for every transition', () => {
    for (const transition of TRANSITIONS) {
      const closed = ['resolved', 'escalated', 'failed'].includes(transition);
      const ev = buildNotificationEvent(
        note({
          transition,
          incident: incident({ state: closed ? (transition as Incident['state']) : 'diagnosing', humanAction: transition === 'escalated' ? 'restore the key on the KMS' : undefined }),
        }),
      );
      expect(notificationProblems(ev), transition).toEqual([]);
      expect(ev.severity).toBe(severityOf(transition));
      expect(transitionOfType(ev.type)).toBe(transition);
    }
  });

  it('pages (critical) on escalated and failed only', () => {
    expect(TRANSITIONS.filter((t) => severityOf(t) === 'critical')).toEqual(['escalated', 'failed']);
    expect(severityOf('action-failed')).toBe('warning');
    expect(severityOf('resolved')).toBe('info');
  });

  it('does not page for a dry-run escalation whose plan would have fixed the VM', () => {
    const planned = incident({
      state: 'escalated',
      humanAction: 'dry-run: review the plan, then run vmlock unlock web-01',
      actions: [{ kind: 'cryptoUnlock', reason: 'keys in the KMS', state: 'planned', dryRun: true }],
    });
    const dryRunEvent = buildNotificationEvent(note({ transition: 'escalated', incident: planned, discriminator: undefined }));
    expect(dryRunEvent.severity).toBe('info');
    expect(notificationProblems(dryRunEvent)).toEqual([]);
    // The schema still refuses an info escalation that is not a dry-run plan.
    const forged = { ...dryRunEvent, data: { ...dryRunEvent.data, actions: [{ ...dryRunEvent.data.actions[0]!, dryRun: false }] } };
    expect(notificationProblems(forged).join(' ')).toMatch(/severity|dryRun/);
    const real = incident({ state: 'escalated', humanAction: 'Restore key k-1 in the KMS', actions: [] });
    expect(buildNotificationEvent(note({ transition: 'escalated', incident: real, discriminator: undefined })).severity).toBe('critical');
  });

  it('rejects an escalation without the human action, naming it', () => {
    const ev = buildNotificationEvent(note({ transition: 'escalated', incident: incident({ state: 'escalated' }) }));
    expect(notificationProblems(ev)).toContain("/data: must have required property 'humanAction'");
  });

  it('names every problem of a bad notification', () => {
    expect(() => buildNotificationEvent(note({ transition: 'exploded' as never, discriminator: 'a b', vcenterSource: ' ' }))).toThrow(PayloadError);
    try {
      buildNotificationEvent(note({ transition: 'exploded' as never, discriminator: 'a b', vcenterSource: ' ' }));
    } catch (err) {
      expect((err as Error).message).toMatch(/transition: "exploded" is not one of/);
      expect((err as Error).message).toMatch(/discriminator/);
      expect((err as Error).message).toMatch(/vcenterSource: missing/);
    }
    const ev = buildNotificationEvent(note());
    expect(notificationProblems({ ...ev, extra: 1 })).toContain('(root): must NOT have additional properties "extra"');
    expect(notificationProblems({ ...ev, time: 'yesterday' })).toContain('/time: must match format "date-time"');
  });

  it('keeps credentials out of the source and the summary on one line', () => {
    expect(sanitizeSource('https://admin:s3cret@vc.example.com/sdk?x=1')).toBe('https://vc.example.com/sdk');
    const ev = buildNotificationEvent(note({ vcenterSource: 'https://admin:s3cret@vc.example.com/sdk', summary: 'line one\nline two' }));
    expect(JSON.stringify(ev)).not.toContain('s3cret');
    expect(ev.data.summary).toBe('line one line two');
    expect(buildNotificationEvent(note({ summary: ' \n' })).data.summary).toBe('web-01: action-started');
    expect(notificationProblems({ ...ev, source: 'https://admin:s3cret@vc/sdk' }).length).toBeGreaterThan(0);
  });

  it('maps ids to BullMQ job ids without ":" and without collisions', () => {
    expect(jobIdOf(messageIdOf('sim.vm-42.1', 'opened'))).toBe('sim.vm-42.1/opened');
    expect(jobIdOf('sim.a:b.1/opened')).toBe('sim.a%3Ab.1/opened');
    expect(jobIdOf('sim.a%3Ab.1/opened')).not.toBe(jobIdOf('sim.a:b.1/opened'));
  });

  it('sends a persistent, mandatory, structured-mode AMQP message with the severity header', () => {
    const ev = buildNotificationEvent(note({ transition: 'failed', incident: incident({ state: 'failed' }) }));
    const m = toAmqpMessage(ev);
    expect(m.routingKey).toBe('incident.failed');
    expect(m.options).toMatchObject({ persistent: true, mandatory: true, messageId: ev.id, contentType: 'application/cloudevents+json', type: 'com.vmlock.incident.failed' });
    expect(m.options.headers).toMatchObject({ severity: 'critical', transition: 'failed', 'incident-id': 'sim.vm-42.1' });
    expect(JSON.parse(m.body.toString('utf8'))).toEqual(ev);
  });

  it('formats a human one-liner', () => {
    const ev = buildNotificationEvent(note({ transition: 'escalated', incident: incident({ state: 'escalated', humanAction: 'restore key k-1' }), summary: 'cannot unlock' }));
    const line = formatNotificationLine(ev);
    expect(line).toContain('CRITICAL');
    expect(line).toContain('incident.escalated');
    expect(line).toContain('sim.vm-42.1 web-01 (vm-42) - cannot unlock | action needed: restore key k-1');
    expect(line).not.toContain('\n');
  });

  it('backs off exponentially up to maxBackoff', () => {
    const mid = () => 0.5;
    expect(backoffDelay(1, 30_000, mid)).toBe(250);
    expect(backoffDelay(3, 30_000, mid)).toBe(1000);
    expect(backoffDelay(20, 30_000, mid)).toBe(30_000);
    expect(backoffDelay(1000, 2_000, () => 1)).toBeLessThanOrEqual(2_000);
    expect(backoffDelay(1, 30_000, () => 0)).toBeGreaterThan(0);
  });
});
