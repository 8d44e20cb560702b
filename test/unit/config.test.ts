import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolvePassword } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { parseDuration } from '../../src/config/duration.ts';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vmlock-cfg-'));
  const f = join(dir, 'vmlock.yaml');
  writeFileSync(f, text);
  return f;
}

function problems(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config loader', () => {
  it('loads the shipped defaults alone', () => {
    const c = loadConfig({ env: {} });
    expect(c.policy.powerOn).toBe('previous');
    expect(c.poller.waitMax).toBe(60_000);
    expect(c.vcenters).toEqual([]);
    expect(Object.isFrozen(c.policy)).toBe(true);
  });

  it('merges the operator file and environment overrides, env last', () => {
    const f = file('policy:\n  dryRun: true\n  kmsWaitTimeout: 2m\nvcenters:\n  - name: lab\n    url: https://vc.lab/sdk\n    user: svc\n    passwordEnv: VC_PW\n');
    const c = loadConfig({ file: f, env: { VMLOCK__POLICY__MAXCONCURRENTTASKSPERVCENTER: '3', VC_PW: 's3cret' } });
    expect(c.policy.dryRun).toBe(true);
    expect(c.policy.kmsWaitTimeout).toBe(120_000);
    expect(c.policy.maxConcurrentTasksPerVcenter).toBe(3);
    expect(c.vcenters[0]?.tls.insecure).toBe(false);
    expect(resolvePassword(c.vcenters[0]!, { VC_PW: 's3cret' })).toBe('s3cret');
  });

  it('names the key and the file of every problem', () => {
    const f = file('policy:\n  powerOn: sometimes\n  bogus: 1\nvcenters:\n  - name: "bad name"\n    url: not-a-url\n    user: u\n');
    const ps = problems(() => loadConfig({ file: f, env: {} }));
    const keys = ps.map((p) => p.key);
    expect(keys).toContain('policy.powerOn');
    expect(keys).toContain('policy.bogus');
    expect(keys).toContain('vcenters.0.name');
    expect(keys).toContain('vcenters.0.url');
    for (const p of ps) expect(p.source).toBe(f);
  });

  it('names the environment variable when an override is bad', () => {
    const ps = problems(() => loadConfig({ env: { VMLOCK__poller__waitMax: 'soon' } }));
    expect(ps[0]).toMatchObject({ key: 'poller.waitMax', source: 'environment VMLOCK__poller__waitMax' });
    expect(ps[0]?.message).toMatch(/not a duration/);
  });

  it('blames an unknown top-level key on the file or variable that set it', () => {
    const f = file('polcy:\n  dryRun: true\n');
    expect(problems(() => loadConfig({ file: f, env: {}, overrides: { vcenters: [] } }))[0]).toMatchObject({ key: 'polcy', source: f });
    expect(problems(() => loadConfig({ env: { VMLOCK__polcy__dryRun: 'true' }, overrides: {} }))[0]).toMatchObject({
      key: 'polcy',
      source: 'environment VMLOCK__polcy__dryRun',
    });
  });

  it('rejects YAML syntax errors and missing files clearly', () => {
    expect(problems(() => loadConfig({ file: file('policy: [unclosed\n'), env: {} }))[0]?.key).toBe('(syntax)');
    expect(problems(() => loadConfig({ file: '/nonexistent/vmlock.yaml', env: {} }))[0]?.message).toBe('file not found');
  });

  it('requires exactly one password source and a token off loopback', () => {
    const f = file('http:\n  host: 0.0.0.0\nvcenters:\n  - name: a\n    url: https://a/sdk\n    user: u\n');
    const keys = problems(() => loadConfig({ file: f, env: {} })).map((p) => p.key);
    expect(keys).toEqual(expect.arrayContaining(['vcenters.0.password', 'http.token']));
  });

  it('parses durations with units only', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('30')).toBeUndefined();
  });
});
