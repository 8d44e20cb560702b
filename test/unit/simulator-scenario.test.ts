import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario, ScenarioError } from '../../src/simulator/scenario.ts';

const base = { name: 'x', kms: [{ id: 'kms-1' }], keys: { k1: 'active' }, hosts: [{ name: 'h1' }] };

describe('simulator scenario files', () => {
  it('loads the built-in scenarios', () => {
    for (const n of ['clean', 'mixed', 'storm']) expect(loadScenario(n).name).toBe(n);
    const mixed = loadScenario('mixed');
    const causes = mixed.vms.map((v) => v.expect?.cause).filter(Boolean);
    for (const c of ['keys-missing-on-host', 'home-key-missing-in-kms', 'home-key-inactive', 'kms-unreachable', 'nonboot-disk-key-missing', 'boot-disk-key-missing', 'missing-privilege', 'host-not-crypto-safe', 'stale-alarm']) {
      expect(causes).toContain(c);
    }
  });

  it('names the problem: unknown scenario, bad YAML keys, dangling references', () => {
    expect(() => loadScenario('no-such-scenario')).toThrow(/scenario "no-such-scenario" not found .* built-in scenarios: clean, mixed, storm/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'h1', colour: 'red' }] })).toThrow(/vms\.0: Unrecognized key: "colour"/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'nope' }] })).toThrow(/vms\[0\] \(v\)\.host: unknown host "nope"/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'h1', key: 'k2' }] })).toThrow(/key "k2" is not listed under keys/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'h1', disks: [{ at: 'scsi9:0' }] }] })).toThrow(/vms\.0\.disks\.0\.at: expected <scsi\|sata\|nvme\|ide><bus>:<unit>/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'h1', bootOrder: ['disk:0'] }] })).toThrow(/bootOrder: disk:0 names no disk/);
    expect(() => parseScenario({ ...base, vms: [{ name: 'v', host: 'h1', expect: { outcome: 'resolved' } }] })).toThrow(/a cause is required unless outcome is none/);
    expect(() => parseScenario({ ...base, kms: [] })).toThrow(ScenarioError);
  });
});
