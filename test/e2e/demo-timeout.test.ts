import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { VMLOCK_BIN } from '../../src/demo/processes.ts';
import type { DemoReport } from '../../src/demo/report.ts';
import { AMQP_URL, REDIS_URL } from '../helpers/services.ts';

function livePidsMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('vmlock demo with a timeout too short to finish', () => {
  it('ends with exit code 1, says it timed out, and stops every process', async () => {
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [VMLOCK_BIN, 'demo', '--json', '--timeout', '1s', '--cleanup', '--redis-url', REDIS_URL, '--amqp-url', AMQP_URL], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(res.code, res.stderr.slice(-2000)).toBe(1);
    const report = JSON.parse(res.stdout) as DemoReport;
    expect(report.ok).toBe(false);
    expect(report.timedOut).toBe(true);
    expect(report.failure).toMatch(/^timed out after 1 s with \d+ VM\(s\) not finished$/);
    expect(report.redisKept).toBe(false);
    expect(livePidsMentioning(report.configFile)).toEqual([]);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${report.redisPrefix}:*`)).toEqual([]);
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
