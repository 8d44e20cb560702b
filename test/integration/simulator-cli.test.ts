import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { SoapProbe } from '../../src/simulator/soap-probe.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;

describe('vmlock sim (process)', () => {
  it('prints its endpoint as one JSON line, serves SOAP and the control API, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sim', '--port', '0', '--json', '--scenario', 'storm', '--vms', '5', '--api-version', '6.5'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VMLOCK_LOG_LEVEL: 'warn' },
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: child.stdout });
        rl.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`vmlock sim exited early (${code})`)));
      });
      const info = JSON.parse(line) as { url: string; controlUrl: string; user: string; password: string; scenario: string };
      expect(info).toMatchObject({ user: 'administrator@vsphere.local', scenario: 'storm' });
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sdk$/);
      const p = new SoapProbe(info.url);
      const sc = await p.call('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance');
      expect(sc.text).toContain('<apiVersion>6.5</apiVersion>');
      expect((await p.login(info.user, info.password)).status).toBe(200);
      const stats = (await (await fetch(`${info.controlUrl}/stats`)).json()) as { vmsByState: { total: number; locked: number } };
      expect(stats.vmsByState).toMatchObject({ total: 5, locked: 5 });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('names a bad scenario and exits non-zero', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sim', '--port', '0', '--scenario', 'no-such'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/^vmlock: scenario "no-such" not found/);
    expect(err).not.toContain('    at ');
  });
});
