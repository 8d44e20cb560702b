import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { preflight, formatProblems } from '../../src/demo/preflight.ts';
import { VMLOCK_BIN } from '../../src/demo/processes.ts';
import { AMQP_URL, REDIS_URL, freePort } from '../helpers/services.ts';

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VMLOCK_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('demo preflight', () => {
  it('finds nothing missing when the shared Redis and RabbitMQ answer', async () => {
    expect(await preflight({ redisUrl: REDIS_URL, amqpUrl: AMQP_URL })).toEqual([]);
  });

  it('names each missing service, where it looked and how to start it, without the password', async () => {
    const deadPort = await freePort();
    const problems = await preflight({
      redisUrl: `redis://:hunter2@127.0.0.1:${deadPort}`,
      amqpUrl: `amqp://guest:hunter2@127.0.0.1:${deadPort}`,
    });
    expect(problems.map((p) => p.service)).toEqual(['Redis', 'RabbitMQ']);
    const text = formatProblems(problems);
    expect(text).toContain(`Redis at redis://:redacted@127.0.0.1:${deadPort}`);
    expect(text).toMatch(/ECONNREFUSED/);
    expect(text).toContain('redis-server --daemonize yes');
    expect(text).toContain('rabbitmq-server -detached');
    expect(text).toContain('docker compose up -d redis');
    expect(text).toContain('docker compose up -d rabbitmq');
    expect(text).not.toContain('hunter2');
  });

  it('makes `vmlock demo` exit 3 before starting anything when RabbitMQ is missing', async () => {
    const deadPort = await freePort();
    const res = await run(['demo', '--amqp-url', `amqp://guest:guest@127.0.0.1:${deadPort}`, '--redis-url', REDIS_URL]);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain(`RabbitMQ at amqp://guest:redacted@127.0.0.1:${deadPort}`);
    expect(res.stderr).toContain('rabbitmq-server -detached');
    expect(res.stderr).not.toMatch(/Redis at/);
    expect(res.stderr).toContain('Nothing was started');
    // No process was started, so no log directory was announced.
    expect(res.stderr).not.toContain('logs of every process');
  });
});
