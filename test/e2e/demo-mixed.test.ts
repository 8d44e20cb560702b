import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type ChannelModel } from 'amqplib';
import { Redis } from 'ioredis';
import { VMLOCK_BIN } from '../../src/demo/processes.ts';
import type { DemoReport } from '../../src/demo/report.ts';
import { AMQP_URL, REDIS_URL } from '../helpers/services.ts';

/**
 * `vmlock demo --scenario mixed --json` as a user runs it: a separate process
 * that starts the simulator, poller, two workers and the notifier as processes
 * of their own against the shared Redis and RabbitMQ. The test also consumes
 * the exchange itself, to check the demo's count of notifications.
 */
const EXCHANGE = 'vmlock.events';

interface Seen {
  vcenter: string;
  incidentId: string;
  transition: string;
}

function runDemo(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VMLOCK_BIN, 'demo', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VMLOCK__redis__url: REDIS_URL, VMLOCK__rabbitmq__url: AMQP_URL },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Pids of live processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('npm run demo (mixed scenario), end to end', () => {
  let amqp: ChannelModel;
  const seen: Seen[] = [];
  let result: { code: number | null; stdout: string; stderr: string };
  let report: DemoReport;

  beforeAll(async () => {
    amqp = await connect(AMQP_URL);
    const ch = await amqp.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(queue, EXCHANGE, 'incident.#');
    await ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        const body = JSON.parse(msg.content.toString()) as { data?: { vcenter?: string; incidentId?: string; transition?: string } };
        seen.push({ vcenter: body.data?.vcenter ?? '', incidentId: body.data?.incidentId ?? '', transition: body.data?.transition ?? '' });
      },
      { noAck: true },
    );
    result = await runDemo(['--scenario', 'mixed', '--json', '--timeout', '4m'], 280_000);
    try {
      report = JSON.parse(result.stdout) as DemoReport;
    } catch {
      throw new Error(`the demo printed no JSON report (exit ${result.code}); stderr:\n${result.stderr.slice(-4000)}`);
    }
  }, 300_000);

  afterAll(async () => {
    await amqp?.close();
    if (report?.redisPrefix) {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${report.redisPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('ends with exit code 0 and every VM as the scenario expects', () => {
    const mismatches = report.vms.filter((v) => !v.ok).map((v) => `${v.vm.name}: ${v.problems.join('; ')}`);
    expect({ failure: report.failure, mismatches, unexpected: report.unexpectedIncidents.map((v) => v.incidentId) }).toEqual({
      failure: undefined,
      mismatches: [],
      unexpected: [],
    });
    expect(report.ok).toBe(true);
    expect(result.code).toBe(0);
    expect(report.scenario).toBe('mixed');
    expect(report.timedOut).toBe(false);
  });

  it('covers the causes the workers must tell apart, with resolved and escalated outcomes', () => {
    const causes = new Set(report.vms.flatMap((v) => v.causes));
    for (const code of ['keys-missing-on-host', 'home-key-missing-in-kms', 'nonboot-disk-key-missing', 'boot-disk-key-missing', 'missing-privilege']) {
      expect(causes, `cause ${code}`).toContain(code);
    }
    expect(report.summary.byOutcome.resolved ?? 0).toBeGreaterThan(0);
    expect(report.summary.byOutcome.escalated ?? 0).toBeGreaterThan(0);
    for (const v of report.vms.filter((x) => x.outcome === 'escalated')) expect(v.humanAction, v.vm.name).toBeTruthy();
    for (const v of report.vms.filter((x) => x.outcome === 'resolved' || x.outcome === 'escalated')) {
      expect(v.durationMs, v.vm.name).toBeGreaterThanOrEqual(0);
    }
  });

  it('detached a non-boot disk keeping its file, and destroyed no disk file', () => {
    expect(report.simulator.destroyedFiles).toEqual([]);
    expect(report.simulator.detachedFiles.length).toBeGreaterThan(0);
    const detach = report.vms.flatMap((v) => v.actions).filter((a) => a.kind === 'detachDisk' && a.state === 'succeeded');
    expect(detach.length).toBe(report.simulator.detachedFiles.length);
  });

  it('counted the notifications this run published, all valid, each closed incident with its final one', () => {
    const ours = seen.filter((s) => s.vcenter === report.vcenter);
    expect(report.notifications.consumed).toBeGreaterThan(0);
    expect(report.notifications.consumed).toBe(ours.length);
    expect(report.notifications.invalid).toEqual([]);
    expect(report.notifications.missingTerminal).toEqual([]);
    for (const v of report.vms.filter((x) => x.incidentId)) {
      const mine = ours.filter((s) => s.incidentId === v.incidentId).map((s) => s.transition);
      expect(mine[0], v.incidentId).toBe('opened');
      expect(mine.at(-1), v.incidentId).toBe(v.outcome);
    }
  });

  it('stopped every process it started and kept their logs', () => {
    expect(processesMentioning(report.configFile)).toEqual([]);
    for (const name of ['simulator', 'poller', 'worker-1', 'worker-2', 'notifier']) {
      expect(existsSync(`${report.logDir}/${name}.log`), name).toBe(true);
    }
    expect(result.stderr).toContain(report.logDir);
  });
});
