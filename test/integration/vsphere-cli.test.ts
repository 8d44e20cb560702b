import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { SimControl } from '../../src/simulator/control-client.ts';
import { createLogger } from '../../src/log.ts';
import type { KeyUsageRow, VmCryptoRow } from '../../src/vsphere/inventory.ts';

/** `vmlock vms` and `vmlock keys usage` in-process against the simulator. */
let sim: RunningSimulator;
let control: SimControl;
let dir: string;
let conn: string[];

beforeAll(async () => {
  sim = await startSimulator({ scenario: 'mixed', logger: createLogger({ level: 'silent' }) });
  control = new SimControl(sim.url.replace(/\/sdk$/, '/_sim'));
  dir = mkdtempSync(join(tmpdir(), 'vmlock-cli-'));
  writeFileSync(join(dir, 'pw'), sim.password + '\n');
  conn = ['--vcenter', sim.url, '--user', sim.user, '--password-file', join(dir, 'pw')];
});

afterAll(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

describe('vmlock vms / keys usage', () => {
  it('vms --json lists every VM with crypto state, home key and disk keys', async () => {
    const r = await run(['vms', '--json', ...conn]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as VmCryptoRow[];
    const truth = await control.vms();
    expect(rows).toHaveLength(truth.length);
    const healthy = rows.find((x) => x.name === 'healthy')!;
    const t = truth.find((x) => x.name === 'healthy')!;
    expect(healthy.homeKey?.keyId).toBe(t.keyId!.keyId);
    expect(healthy.disks.map((d) => d.keyId?.keyId)).toEqual(t.disks.map((d) => d.keyId?.keyId));
    expect(r.out + r.err).not.toContain(sim.password);
  });

  it('vms --locked shows only locked VMs, as a table', async () => {
    const r = await run(['vms', '--locked', ...conn]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^VCENTER\s+VM\s+NAME\s+POWER\s+CRYPTO\s+HOME KEY\s+DISK KEYS$/);
    const locked = (await control.vms()).filter((v) => v.cryptoState === 'locked');
    expect(lines).toHaveLength(locked.length + 1);
    expect(lines.slice(1).every((l) => /\slocked\s/.test(l))).toBe(true);
  });

  it('keys usage KEY_ID names the VM and what uses the key', async () => {
    const vm = await control.vm('nonboot-disk-key-missing');
    const diskKey = vm.disks[1]!.keyId!.keyId;
    const r = await run(['keys', 'usage', diskKey, '--json', ...conn]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as KeyUsageRow[];
    expect(rows).toEqual([{ keyId: diskKey, providerId: vm.disks[1]!.keyId!.providerId, vcenter: 'vc', vm: vm.moref, vmName: vm.name, usage: `disk ${vm.disks[1]!.key} (Hard disk 2)` }]);
    const none = await run(['keys', 'usage', '00000000-0000-0000-0000-000000000000', ...conn]);
    expect(none.out).toMatch(/is not used by any VM or disk/);
  });

  it('a clear error when no vCenter is configured', async () => {
    const r = await run(['vms', '--config', join(dir, 'empty.yaml')].concat([]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/file not found|no vCenter configured/);
    writeFileSync(join(dir, 'empty.yaml'), 'vcenters: []\n');
    const r2 = await run(['vms', '--config', join(dir, 'empty.yaml')]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/no vCenter configured: add one under "vcenters"/);
  });

  it('a wrong password is reported without the password', async () => {
    writeFileSync(join(dir, 'bad'), 'not-the-password');
    const r = await run(['vms', '--vcenter', sim.url, '--user', sim.user, '--password-file', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/vCenter vc: /);
    expect(r.err).not.toContain('not-the-password');
  });
});
