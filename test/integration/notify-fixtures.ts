import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { connect } from 'amqplib';
import { createLogger, type Logger } from '../../src/log.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { NOTIFICATIONS_QUEUE, type Incident, type IncidentState, type Transition, type ActionRecord } from '../../src/incidents/model.ts';
import type { IncidentNotification } from '../../src/notify/index.ts';
import { AMQP_URL, REDIS_URL } from '../helpers/services.ts';

/** A logger whose JSON lines the test reads back. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({ level, destination });
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

export function notifyConfig(opts: { prefix: string; exchange: string; amqpUrl?: string; maxBackoff?: string }): Config {
  return loadConfig({
    env: {},
    overrides: {
      redis: { url: REDIS_URL, prefix: opts.prefix },
      rabbitmq: { url: opts.amqpUrl ?? AMQP_URL, exchange: opts.exchange, maxBackoff: opts.maxBackoff ?? '500ms' },
    },
  });
}

const t0 = Date.parse('2026-12-03T10:00:00.000Z');
const at = (s: number): string => new Date(t0 + s * 1000).toISOString();

function base(vcenter: string, moref: string, seq: number): Incident {
  return {
    id: `${vcenter}.${moref}.${seq}`,
    vcenter,
    vm: { moref, name: `app-${moref}` },
    state: 'open',
    openedAt: at(0),
    causes: [],
    advisories: [],
    actions: [],
    signals: 1,
    timeline: [],
  };
}

/**
 * The notifications of one simulated incident, in order. Flavours cover every
 * transition: 'escalate' (approval, a failed detach, escalated), 'resolve'
 * (unlock succeeded) and 'fail'.
 */
export function incidentStory(vcenter: string, moref: string, flavour: 'escalate' | 'resolve' | 'fail', seq = 1): IncidentNotification[] {
  const inc = base(vcenter, moref, seq);
  const out: IncidentNotification[] = [];
  let clock = 0;
  const step = (transition: Transition, state: IncidentState, summary: string, change: (i: Incident) => void = () => undefined, discriminator?: string): void => {
    inc.state = state;
    change(inc);
    clock += 1;
    const snapshot = structuredClone(inc);
    out.push({ transition, incident: snapshot, vcenterSource: `vmlock/vcenter/${vcenter}`, summary, at: at(clock), ...(discriminator ? { discriminator } : {}) });
  };
  const unlock: ActionRecord = { kind: 'cryptoUnlock', reason: 'host key cache lost its keys after a reboot; keys are on the KMS', state: 'started', target: moref, startedAt: at(3) };
  step('opened', 'open', `${inc.vm.name} is locked (cryptoState=locked)`);
  step('diagnosed', 'diagnosing', 'key missing from the host key cache', (i) => {
    i.causes = [{ code: 'HOST_KEY_CACHE_MISSING', message: 'the host lost the VM key after a reboot', keyId: 'k-1' }];
  });
  if (flavour === 'fail') {
    step('failed', 'failed', 'vCenter kept refusing the session; gave up after 5 attempts', (i) => {
      i.closedAt = at(9);
    });
    return out;
  }
  if (flavour === 'escalate') {
    step('awaiting-approval', 'awaiting-approval', 'detachDisk needs approval (policy.requireApproval)');
  }
  step('action-started', 'remediating', 'CryptoUnlock_Task started', (i) => i.actions.push({ ...unlock }), '0');
  step('action-succeeded', 'verifying', 'CryptoUnlock_Task succeeded', (i) => Object.assign(i.actions[0]!, { state: 'succeeded', task: 'task-7', endedAt: at(4) }), '0');
  if (flavour === 'resolve') {
    step('resolved', 'resolved', `${inc.vm.name} is unlocked`, (i) => {
      i.closedAt = at(9);
    });
    return out;
  }
  step('action-started', 'remediating', 'detaching disk 2 (its key is gone)', (i) =>
    i.actions.push({ kind: 'detachDisk', reason: 'key k-2 of non-boot disk 2000 is gone from the KMS', state: 'started', target: '2000', startedAt: at(5), details: { fileName: '[ds1] vm/vm_1.vmdk', keyId: 'k-2' } }), '1');
  step('action-failed', 'remediating', 'detach failed: InvalidPowerState', (i) => Object.assign(i.actions[1]!, { state: 'failed', error: 'InvalidPowerState', endedAt: at(6) }), '1');
  step('escalated', 'escalated', 'cannot detach disk 2; a human must act', (i) => {
    i.humanAction = 'Restore key k-2 on the KMS, or detach disk 2000 by hand and power the VM on';
    i.closedAt = at(9);
  });
  return out;
}

/** Polls until cond() holds; fails with what it was waiting for. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Removes the test's outbox queue and exchange (never the shared services themselves). */
export async function cleanup(prefix: string, exchange: string): Promise<void> {
  const q = new Queue(NOTIFICATIONS_QUEUE, { connection: { url: REDIS_URL }, prefix });
  await q.obliterate({ force: true }).catch(() => undefined);
  await q.close();
  const model = await connect(AMQP_URL);
  const ch = await model.createChannel();
  await ch.deleteExchange(exchange).catch(() => undefined);
  await model.close().catch(() => undefined);
}
