import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildSet } from '../../bench/lib/children.ts';
import { WaitTimeoutError, waitUntil } from '../../bench/lib/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'vmlock-bench-children-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ChildSet', () => {
  it('logs each child to its own file and stops them all by pid', async () => {
    const set = new ChildSet(dir);
    const a = set.start({ name: 'sleeper-a', command: process.execPath, args: ['-e', 'console.log("a up"); setInterval(() => {}, 1000)'], cwd: dir });
    // b ignores SIGTERM, so only the SIGKILL after the grace period ends it.
    const b = set.start({ name: 'sleeper-b', command: process.execPath, args: ['-e', 'process.on("SIGTERM", () => {}); console.log("b up"); setInterval(() => {}, 1000)'], cwd: dir });
    await waitUntil(() => readFileSync(b.logFile, 'utf8').includes('b up') && readFileSync(a.logFile, 'utf8').includes('a up'), { what: 'children up', timeoutMs: 10_000, intervalMs: 50 });
    expect(() => set.assertAlive()).not.toThrow();
    await set.stop(a, 300);
    expect(() => set.assertAlive()).not.toThrow(); // stopped on purpose, not a crash
    await set.stopAll(300);
    expect(a.status()).toBe('SIGTERM');
    expect(b.status()).toBe('SIGKILL');
    expect(isRunning(a.pid)).toBe(false);
    expect(isRunning(b.pid)).toBe(false);
  });

  it('names a child that died early, with its exit code and last log lines', async () => {
    const set = new ChildSet(dir);
    const c = set.start({ name: 'crasher', command: process.execPath, args: ['-e', 'console.error("config is bad: vcenters.0.url"); process.exit(2)'], cwd: dir });
    await c.exited;
    expect(() => set.assertAlive()).toThrow(/crasher \(pid \d+\) exited early \(2\).*\n.*config is bad: vcenters\.0\.url/);
  });
});

describe('waitUntil', () => {
  it('says what it waited for and the last state seen', async () => {
    await expect(waitUntil(() => false, { what: 'the moon', timeoutMs: 50, intervalMs: 10, describe: () => '3 of 4 craters' })).rejects.toThrow(
      new WaitTimeoutError('timed out after 50 ms waiting for the moon (last seen: 3 of 4 craters)'),
    );
  });

  it('stops at once when the check throws', async () => {
    await expect(waitUntil(() => false, { what: 'x', timeoutMs: 10_000, intervalMs: 10, check: () => { throw new Error('poller died'); } })).rejects.toThrow('poller died');
  });
});
