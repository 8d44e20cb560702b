import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/load.ts';
import { portFor, type ProcessKind } from '../../src/ops/ports.ts';

/**
 * `docker compose` is not installed on this machine, so the compose file is
 * checked here for what `docker compose config` and a first `up` would catch:
 * structure, the commands each container runs (against the real CLI), the
 * configuration its environment produces (through the real loader) and ports.
 */
type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  volumes?: string[];
};

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

/** Compose interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error} with an empty environment. */
function interpolate(text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_m, _name: string, op: string | undefined, arg: string | undefined) => {
    if (op?.endsWith('-')) return arg ?? '';
    if (op?.endsWith('?')) throw new Error(`required variable: ${arg}`);
    return '';
  });
}

const VMLOCK_SERVICES: Record<string, ProcessKind> = { poller: 'poller', worker: 'worker', notifier: 'notifier' };

describe('docker-compose.yml', () => {
  it('has Redis with an append-only file, RabbitMQ with management, the simulator, poller, two workers and notifier', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['notifier', 'poller', 'rabbitmq', 'redis', 'simulator', 'worker']);
    const redis = compose.services.redis!;
    expect(redis.command?.join(' ')).toContain('--appendonly yes');
    expect(redis.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(compose.services.rabbitmq?.image).toMatch(/^rabbitmq:[\w.]+-management$/);
    expect(compose.services.worker?.deploy?.replicas).toBe(2);
    for (const v of [redis, compose.services.rabbitmq!].flatMap((s) => s.volumes ?? [])) {
      expect(Object.keys(compose.volumes)).toContain(v.split(':')[0]);
    }
  });

  // The real validator, where this machine has one (.ci/run installs Debian's docker-compose).
  const composeCli = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  it.runIf(composeCli)('is accepted by `docker-compose config`', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('publishes every port on loopback only', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const p of svc.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('runs commands the vmlock CLI has, with options it accepts', async () => {
    const program = await buildProgram();
    const byName = new Map(program.commands.map((c) => [c.name(), c]));
    for (const name of ['simulator', ...Object.keys(VMLOCK_SERVICES)]) {
      const svc = compose.services[name]!;
      expect(svc.image, name).toBe('vmlock:local');
      expect(svc.build, name).toBe('.');
      const [cmd, ...args] = (svc.command ?? []).map(interpolate);
      const command = byName.get(cmd ?? '');
      expect(command, `${name}: vmlock ${cmd}`).toBeDefined();
      const known = new Set(command!.options.flatMap((o) => [o.long, o.short].filter(Boolean)));
      for (const flag of args.filter((a) => a.startsWith('-'))) expect(known, `${name}: vmlock ${cmd} ${flag}`).toContain(flag);
    }
  });

  it('gives each vmlock process a valid configuration pointing at the simulator, Redis and RabbitMQ services', () => {
    for (const [name, kind] of Object.entries(VMLOCK_SERVICES)) {
      const svc = compose.services[name]!;
      const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
      const config = loadConfig({ env });
      expect(config.vcenters.map((v) => v.url), name).toEqual(['http://simulator:8989/sdk']);
      expect(env[config.vcenters[0]!.passwordEnv!], name).toBeTruthy();
      expect(config.redis.url).toBe('redis://redis:6379');
      expect(config.rabbitmq.url).toBe('amqp://guest:guest@rabbitmq:5672');
      expect(config.http.host).toBe('0.0.0.0');
      expect(config.http.token).toBeTruthy();
      const port = portFor(kind, config.http.port);
      expect(svc.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${port}/healthz`);
      for (const p of svc.ports ?? []) expect(p, name).toBe(`127.0.0.1:${port}:${port}`);
      expect(Object.keys(svc.depends_on ?? {}).sort(), name).toEqual(['rabbitmq', 'redis', 'simulator']);
      expect(Object.values(svc.depends_on ?? {}).every((d) => d.condition === 'service_healthy'), name).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(new URL('Dockerfile', root), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

  it('is multi-stage and runs as a non-root user', () => {
    const stages = lines.filter((l) => /^FROM\s/i.test(l));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
    const user = lines.slice(lastFrom).find((l) => /^USER\s/i.test(l));
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
    expect(lines.slice(lastFrom).some((l) => /^ENTRYPOINT \["node", "bin\/vmlock\.js"\]/.test(l))).toBe(true);
  });

  it('copies only paths that exist and keeps the dev dependencies out of the final stage', () => {
    for (const l of lines.filter((x) => /^COPY\s/i.test(x) && !x.includes('--from'))) {
      const sources = l.trim().split(/\s+/).slice(1, -1);
      for (const s of sources) expect(existsSync(new URL(s, root)), l).toBe(true);
    }
    const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
    expect(lines.slice(lastFrom).some((l) => /npm ci(?!.*--omit=dev)/.test(l))).toBe(false);
    expect(text).toMatch(/npm ci --omit=dev/);
  });
});

describe('config/example-production.yaml', () => {
  it('loads, watches several real vCenters with TLS checked and passwords out of the file, and starts in dry-run', () => {
    const file = new URL('config/example-production.yaml', root).pathname;
    const config = loadConfig({ file, env: {} });
    expect(config.vcenters.length).toBeGreaterThanOrEqual(2);
    for (const vc of config.vcenters) {
      expect(vc.url, vc.name).toMatch(/^https:\/\//);
      expect(vc.password, vc.name).toBeUndefined();
      expect(vc.tls.insecure, vc.name).toBe(false);
      expect(Boolean(vc.tls.caFile || vc.tls.thumbprint), vc.name).toBe(true);
    }
    expect(config.vcenters.some((vc) => vc.passwordFile && vc.tls.caFile)).toBe(true);
    expect(config.policy.dryRun).toBe(true);
    expect(config.http.tokenFile).toBeTruthy();
  });
});
