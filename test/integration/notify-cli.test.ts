import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { NotificationOutbox, notificationProblems, type NotificationEvent } from '../../src/notify/index.ts';
import { AMQP_URL, REDIS_URL, uniquePrefix } from '../helpers/services.ts';
import { captureLogger, cleanup, incidentStory, waitFor } from './notify-fixtures.ts';

const root = resolve(import.meta.dirname, '../..');
const tsx = resolve(root, 'node_modules/.bin/tsx');

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Proc {
  const child = spawn(tsx, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

const procs: Proc[] = [];
const worlds: { prefix: string; exchange: string }[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  for (const w of worlds.splice(0)) await cleanup(w.prefix, w.exchange);
});

describe('notifier process and notifications tail command', () => {
  it('workers/notifier.ts publishes the outbox, `vmlock notifications tail --json --count` prints it, SIGTERM stops cleanly', async () => {
    const prefix = uniquePrefix('notify-cli');
    const exchange = `vmlock.events.${prefix}`;
    worlds.push({ prefix, exchange });
    const env = { VMLOCK__redis__url: REDIS_URL, VMLOCK__redis__prefix: prefix, VMLOCK__rabbitmq__url: AMQP_URL, VMLOCK__rabbitmq__exchange: exchange, VMLOCK__http__enabled: 'false' };
    const story = incidentStory('sim', 'vm-30', 'escalate');

    const tail = run(['src/cli/main.ts', 'notifications', 'tail', '--json', '--count', String(story.length), '--timeout', '25s'], env);
    procs.push(tail);
    await waitFor('the tail to bind its queue', () => tail.stderr().includes('tailing exchange'), 25_000);

    const notifier = run(['workers/notifier.ts'], { ...env, VMLOCK__http__enabled: 'true', VMLOCK__http__port: '0' });
    procs.push(notifier);
    const { logger } = captureLogger();
    const outbox = new NotificationOutbox({ redisUrl: REDIS_URL, prefix, logger });
    try {
      for (const n of story) await outbox.emit(n);
      expect(await tail.exited).toBe(0);
      const events = tail.stdout().trim().split('\n').map((l) => JSON.parse(l) as NotificationEvent);
      expect(events.map((e) => e.data.transition)).toEqual(story.map((n) => n.transition));
      for (const e of events) expect(notificationProblems(e)).toEqual([]);
      await waitFor('an empty outbox', async () => (await outbox.pending()) === 0);
      // The notifier process serves the ops endpoints: readiness of its publishing, the outbox depth.
      const listening = notifier.stdout().split('\n').find((l) => l.includes('notifier ops HTTP server listening'));
      const opsUrl = (JSON.parse(listening!) as { url: string }).url;
      const ready = (await (await fetch(`${opsUrl}/readyz`)).json()) as { ready: boolean; checks: Record<string, { state: string }> };
      expect(ready.checks['rabbitmq-notifier']?.state).toBe('publishing');
      expect(ready.ready).toBe(true);
      expect(await (await fetch(`${opsUrl}/metrics`)).text()).toMatch(/^vmlock_notifications_pending 0$/m);
    } finally {
      await outbox.close();
    }
    notifier.child.kill('SIGTERM');
    expect(await notifier.exited).toBe(0);
    expect(notifier.stdout()).toContain('notifier stopped');
    expect(notifier.stdout()).not.toContain('guest:guest');
  });

  it('tail names a bad flag and exits 1 when --count is not reached before --timeout', async () => {
    const bad = run(['src/cli/main.ts', 'notifications', 'tail', '--url', AMQP_URL, '--timeout', 'soon'], {});
    procs.push(bad);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--timeout: "soon" is not a duration');

    const exchange = `vmlock.events.${uniquePrefix('notify-cli-empty')}`;
    worlds.push({ prefix: uniquePrefix('unused'), exchange });
    const idle = run(['src/cli/main.ts', 'notifications', 'tail', '--url', AMQP_URL, '--exchange', exchange, '--count', '1', '--timeout', '1s'], {});
    procs.push(idle);
    expect(await idle.exited).toBe(1);
    expect(idle.stderr()).toContain('timed out after 1s with 0 of 1 notifications');
  });
});
