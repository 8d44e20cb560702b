import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { HealthRegistry } from '../../src/ops/health.ts';
import { startHttpServer, type HttpServer } from '../../src/ops/http.ts';
import { bearerFrom, resolveHttpToken, tokenMatches } from '../../src/ops/auth.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portFor } from '../../src/ops/ports.ts';
import { soapCalls } from '../../src/ops/metrics.ts';
import { IncidentStore } from '../../src/incidents/store.ts';
import { INCIDENTS_QUEUE, type Incident } from '../../src/incidents/model.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

const logger = createLogger({ level: 'silent' });
const signal = (detail: string) => ({ kind: 'cryptoState' as const, at: new Date().toISOString(), detail });

describe('ops HTTP server on real Redis', () => {
  const prefix = uniquePrefix('ops');
  const config = loadConfig({ env: {}, overrides: { redis: { url: REDIS_URL, prefix }, http: { host: '127.0.0.1', port: 0 } } });
  const health = new HealthRegistry();
  let redis: Redis;
  let store: IncidentStore;
  let incidentsQueue: Queue;
  let server: HttpServer;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    store = new IncidentStore(redis, prefix);
    incidentsQueue = new Queue(INCIDENTS_QUEUE, { connection: redis, prefix });
    server = await startHttpServer({ config, logger, kind: 'worker', health, redis, queues: { incidents: incidentsQueue } });
  });

  afterAll(async () => {
    await server?.close();
    await incidentsQueue?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('answers /healthz and binds to loopback on the port it was given', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, kind: 'worker', pid: process.pid });
  });

  it('is ready only while Redis and every reported component are', async () => {
    let res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ready: true, checks: { redis: { ok: true } } });

    health.report('vcenter:vc1', false, 'reconnecting', 'connect ECONNREFUSED');
    health.report('rabbitmq', true, 'connected');
    res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; state: string }> };
    expect(body.ready).toBe(false);
    expect(body.checks['vcenter:vc1']).toMatchObject({ ok: false, state: 'reconnecting' });
    expect(body.checks.rabbitmq?.ok).toBe(true);

    health.report('vcenter:vc1', true, 'watching');
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('serves incidents with timelines, filtered by state', async () => {
    const a = await store.openOrJoin('vc1', { moref: 'vm-1', name: 'web' }, signal('locked'));
    const b = await store.openOrJoin('vc1', { moref: 'vm-2', name: 'db' }, signal('locked'));
    await store.update(b.id, { causes: [{ code: 'kms-unreachable', message: 'KMS down' }] });
    await store.close(b.id, 'escalated', 'KMS stayed down', 'restore the KMS connection');

    const all = (await (await fetch(`${server.url}/api/incidents`)).json()) as { count: number; incidents: Incident[] };
    expect(all.incidents.map((i) => i.id).sort()).toEqual([a.id, b.id].sort());
    expect(all.incidents.every((i) => i.timeline.length > 0)).toBe(true);

    const escalated = (await (await fetch(`${server.url}/api/incidents?state=escalated`)).json()) as { incidents: Incident[] };
    expect(escalated.incidents.map((i) => i.id)).toEqual([b.id]);
    expect(escalated.incidents[0]?.humanAction).toBe('restore the KMS connection');

    const one = await fetch(`${server.url}/api/incidents/${a.id}`);
    expect(one.status).toBe(200);
    const inc = (await one.json()) as Incident;
    expect(inc).toMatchObject({ id: a.id, state: 'open', vm: { moref: 'vm-1', name: 'web' } });
    expect(inc.timeline[0]?.type).toBe('signal');
  });

  it('names the problem in bad requests and 404s', async () => {
    const badState = await fetch(`${server.url}/api/incidents?state=sleeping`);
    expect(badState.status).toBe(400);
    expect(((await badState.json()) as { error: string }).error).toMatch(/state must be one of/);

    const badId = await fetch(`${server.url}/api/incidents/not-an-id`);
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { error: string }).error).toMatch(/not an incident id/);

    const missing = await fetch(`${server.url}/api/incidents/vc1.vm-99.1`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('no incident vc1.vm-99.1');
  });

  it('approves an incident awaiting approval and wakes its delayed job', async () => {
    const { id } = await store.openOrJoin('vc1', { moref: 'vm-3', name: 'app' }, signal('locked'));
    await incidentsQueue.add('incident', { incidentId: id }, { jobId: id, delay: 3_600_000 });

    const tooEarly = await fetch(`${server.url}/api/incidents/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'alice' }),
    });
    expect(tooEarly.status).toBe(409);
    expect(((await tooEarly.json()) as { error: string }).error).toMatch(/not awaiting approval/);

    await store.setState(id, 'awaiting-approval');
    const noBy = await fetch(`${server.url}/api/incidents/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(noBy.status).toBe(400);
    expect(((await noBy.json()) as { error: string }).error).toMatch(/by/);

    const ok = await fetch(`${server.url}/api/incidents/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'alice' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Incident).approvedBy).toBe('alice');
    const job = await incidentsQueue.getJob(id);
    expect(await job?.isDelayed()).toBe(false);
    expect(await job?.isWaiting()).toBe(true);
    const stored = await store.require(id);
    expect(stored.timeline.some((t) => t.type === 'approval' && t.message === 'approved by alice')).toBe(true);
  });

  it('exposes the instruments and the Redis-backed gauges on /metrics', async () => {
    soapCalls.inc({ vcenter: 'vc1', method: 'CryptoUnlock_Task', fault: '' });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/vmlock_soap_calls_total\{vcenter="vc1",method="CryptoUnlock_Task",fault=""\} \d+/);
    expect(text).toContain('vmlock_incidents{state="escalated",cause="kms-unreachable"} 1');
    expect(text).toMatch(/vmlock_incidents\{state="open",cause=""\} [1-9]/);
    expect(text).toMatch(/vmlock_queue_jobs\{queue="incidents",status="waiting"\} 1/);
    expect(text).toMatch(/vmlock_notifications_pending 0/);
    expect(text).toContain('vmlock_detection_latency_seconds');
    expect(text).toContain('vmlock_time_to_resolve_seconds');
  });

  it('shows both queues read-only with bull-board at /queues', async () => {
    const page = await fetch(`${server.url}/queues`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await fetch(`${server.url}/queues/api/queues`);
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['incidents', 'notifications']);
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
    const obliterate = await fetch(`${server.url}/queues/api/queues/incidents/obliterate`, { method: 'PUT' });
    expect(obliterate.status).toBe(405);
    expect(await incidentsQueue.getJobCountByTypes('waiting')).toBe(1);
  });
});

describe('ops HTTP server with a bearer token', () => {
  const token = 's3cret-token-value';
  const config = loadConfig({ env: {}, overrides: { http: { host: '127.0.0.1', port: 0, token } } });
  let server: HttpServer;

  beforeAll(async () => {
    server = await startHttpServer({ config, logger, kind: 'sim', health: new HealthRegistry() });
  });
  afterAll(async () => server?.close());

  it('lets /healthz through without the token', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('refuses every other route without the right token', async () => {
    for (const path of ['/metrics', '/readyz']) {
      const none = await fetch(`${server.url}${path}`);
      expect(none.status).toBe(401);
      const body = await none.text();
      expect(body).not.toContain(token);
      const wrong = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
    }
  });

  it('has no Redis-backed routes in a process without Redis', async () => {
    const res = await fetch(`${server.url}/api/incidents`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no route GET /api/incidents', code: 'VMLOCK_ERR_NOT_FOUND' });
  });
});

describe('token and port helpers', () => {
  it('parses bearer headers and compares tokens exactly', () => {
    expect(bearerFrom('Bearer abc')).toBe('abc');
    expect(bearerFrom('bearer abc ')).toBe('abc');
    expect(bearerFrom('Basic abc')).toBeUndefined();
    expect(bearerFrom(undefined)).toBeUndefined();
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abcd', 'abc')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });

  it('reads the token from tokenFile and names the key when the file is missing or empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmlock-token-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file-token\n');
    const base = { host: '127.0.0.1', port: 0, enabled: true };
    expect(resolveHttpToken({ ...base, tokenFile: file })).toBe('from-file-token');
    expect(resolveHttpToken({ ...base, token: 'inline', tokenFile: file })).toBe('inline');
    expect(resolveHttpToken(base)).toBeUndefined();
    expect(() => resolveHttpToken({ ...base, tokenFile: join(dir, 'nope') })).toThrow(/http\.tokenFile: cannot read: ENOENT/);
    writeFileSync(file, '  \n');
    expect(() => resolveHttpToken({ ...base, tokenFile: file })).toThrow(/http\.tokenFile: the file is empty/);
  });

  it('offsets ports by process kind and keeps 0 as any free port', () => {
    expect(portFor('poller', 9464)).toBe(9464);
    expect(portFor('worker', 9464)).toBe(9465);
    expect(portFor('notifier', 9464)).toBe(9466);
    expect(portFor('worker', 0)).toBe(0);
    expect(() => portFor('serve', 65535)).toThrow(/http.port/);
  });

  it('refuses to start when a non-loopback host has no token', () => {
    expect(() => loadConfig({ env: {}, overrides: { http: { host: '0.0.0.0' } } })).toThrow(/http.token/);
  });
});
