import { VCSIM_DIR } from '../helpers/fixtures.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VsphereClient, type SoapCallRecord } from '../../src/vsphere/client.ts';
import { startReplayServer, type ReplayAnswer, type ReplayRequest, type ReplayServer } from '../../src/vsphere/replay-server.ts';
import { InvalidLogin, ManagedObjectNotFound, NotAuthenticated, TransportError, VimFault } from '../../src/vsphere/faults.ts';
import { createLogger } from '../../src/log.ts';
import type { ObjectUpdate } from '../../src/vsphere/types.ts';

/** Client behaviour over real HTTP against a replay server answering with recorded or hand-built vim25 bodies. */
const VCSIM = VCSIM_DIR;
const fixture = (prefix: string) => readFileSync(VCSIM + readdirSync(VCSIM).find((f) => f.startsWith(prefix) && f.endsWith('.response.xml'))!, 'utf8');

const ENV_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENV_CLOSE = '</soapenv:Body></soapenv:Envelope>';
const envelope = (method: string, inner: string) => `${ENV_OPEN}<${method}Response xmlns="urn:vim25">${inner}</${method}Response>${ENV_CLOSE}`;
const moRet = (type: string, value: string) => `<returnval type="${type}">${value}</returnval>`;
const notAuthenticated = fixture('53-');
const PASSWORD = 'S3cret-pa55word!';

type Handler = (req: ReplayRequest, state: { logins: number }) => ReplayAnswer | undefined;

let server: ReplayServer | undefined;
let client: VsphereClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => undefined);
  await server?.stop();
  client = undefined;
  server = undefined;
});

/** Replay server with RetrieveServiceContent/Login/Logout answered; a stale cookie gets NotAuthenticated for methods in `needsSession`. */
async function setup(handler: Handler, opts: { callTimeoutMs?: number; log?: string[]; calls?: SoapCallRecord[] } = {}): Promise<{ server: ReplayServer; client: VsphereClient; state: { logins: number } }> {
  const state = { logins: 0 };
  server = await startReplayServer((req) => {
    if (req.method === 'RetrieveServiceContent') return { body: fixture('01-') };
    if (req.method === 'Login') {
      state.logins++;
      if (!req.body.includes(`<password>${PASSWORD}</password>`) && !req.body.includes(`:password>${PASSWORD}<`)) return { status: 500, body: fixture('51-') };
      return { body: fixture('02-'), headers: { 'Set-Cookie': `vmware_soap_session=session-${state.logins}; HttpOnly` } };
    }
    if (req.method === 'Logout') return { body: fixture('52-') };
    return handler(req, state) ?? { status: 500, body: '<unexpected/>' };
  });
  const log = opts.log;
  const logger = log
    ? createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _e, cb) => (log.push(String(chunk)), cb()) }) as never })
    : undefined;
  client = new VsphereClient({
    name: 'vc1',
    url: server.url,
    user: 'user',
    password: PASSWORD,
    callTimeoutMs: opts.callTimeoutMs ?? 30_000,
    logger,
    onCall: opts.calls ? (r) => opts.calls!.push(r) : undefined,
  });
  await client.connect();
  return { server, client, state };
}

describe('sessions', () => {
  it('logs in again once on a NotAuthenticated SOAP fault, retries the call and notifies listeners', async () => {
    const { client, server, state } = await setup((req) => {
      if (req.method === 'CurrentTime') {
        if (req.cookie === 'vmware_soap_session=session-1') return { status: 500, body: notAuthenticated };
        return { body: envelope('CurrentTime', '<returnval>2026-12-03T12:00:00.5Z</returnval>') };
      }
      return undefined;
    });
    let renewed = 0;
    client.onSessionRenewed(() => renewed++);
    expect(await client.currentTime()).toEqual(new Date('2026-12-03T12:00:00.5Z'));
    expect(state.logins).toBe(2);
    expect(renewed).toBe(1);
    expect(server.requests.filter((r) => r.method === 'CurrentTime').map((r) => r.cookie)).toEqual(['vmware_soap_session=session-1', 'vmware_soap_session=session-2']);
  });

  it('treats NotAuthenticated inside a missingSet (vcsim, HTTP 200) the same way', async () => {
    const { client, state } = await setup((req) => {
      if (req.method === 'CreateContainerView') return { body: fixture('03-') };
      if (req.method === 'RetrievePropertiesEx') return { body: req.cookie?.endsWith('session-1') ? fixture('46-') : fixture('04-') };
      return undefined;
    });
    const vms = await client.listVmStates();
    expect(state.logins).toBe(2);
    expect(vms.map((v) => v.name)).toEqual(['DC0_H0_VM0', 'DC0_H0_VM1', 'DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1']);
  });

  it('keeps an idle session alive with CurrentTime, and stops on close', async () => {
    server = await startReplayServer((req) => {
      if (req.method === 'RetrieveServiceContent') return { body: fixture('01-') };
      if (req.method === 'Login') return { body: fixture('02-') };
      if (req.method === 'Logout') return { body: fixture('52-') };
      return { body: envelope('CurrentTime', '<returnval>2026-12-03T12:00:00Z</returnval>') };
    });
    client = new VsphereClient({ name: 'ka', url: server.url, user: 'user', password: PASSWORD, keepAliveMs: 1000 });
    await client.connect();
    await vi.waitFor(() => expect(server!.requests.some((r) => r.method === 'CurrentTime')).toBe(true), { timeout: 10_000, interval: 100 });
    await client.close();
    const count = server.requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.requests.length).toBe(count);
  });

  it('gives up after one re-login: a second NotAuthenticated is thrown', async () => {
    const { client, state } = await setup((req) => (req.method === 'CurrentTime' ? { status: 500, body: notAuthenticated } : undefined));
    await expect(client.currentTime()).rejects.toBeInstanceOf(NotAuthenticated);
    expect(state.logins).toBe(2);
  });

  it('a wrong password is InvalidLogin and neither the error nor the log carries the password', async () => {
    const log: string[] = [];
    server = await startReplayServer((req) => (req.method === 'RetrieveServiceContent' ? { body: fixture('01-') } : { status: 500, body: fixture('51-') }));
    client = new VsphereClient({ name: 'vc1', url: server.url, user: 'user', password: 'wrong-' + PASSWORD, logger: createLogger({ level: 'trace', destination: new Writable({ write: (c, _e, cb) => (log.push(String(c)), cb()) }) as never }) });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidLogin);
    expect(JSON.stringify({ m: (err as Error).message, f: (err as VimFault).fields, s: (err as Error).stack })).not.toContain(PASSWORD);
    expect(log.join('')).not.toContain(PASSWORD);
  });
});

describe('transport errors', () => {
  it('a call that does not answer within callTimeout is a TransportError naming the method', async () => {
    const { client } = await setup((req) => (req.method === 'CurrentTime' ? { body: envelope('CurrentTime', ''), delayMs: 1500 } : undefined), { callTimeoutMs: 300 });
    const err = await client.currentTime().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/CurrentTime: no response from .* within 300 ms/);
  });

  it('malformed XML, an HTML 503 and a refused connection are TransportErrors', async () => {
    let answer: ReplayAnswer = { body: '<soapenv:Envelope><soapenv:Body><CurrentTimeResponse>' };
    const { client, server } = await setup((req) => (req.method === 'CurrentTime' ? answer : undefined));
    await expect(client.currentTime()).rejects.toThrow(/CurrentTime: malformed XML/);
    answer = { status: 503, body: '<html>maintenance</html>' };
    await expect(client.currentTime()).rejects.toThrow(/HTTP 503/);
    await server.stop();
    const err = await client.currentTime().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/CurrentTime: request to 127\.0\.0\.1:\d+\/sdk failed: ECONNREFUSED/);
  });

  it('counts calls by method and fault through onCall and the per-client counters', async () => {
    const calls: SoapCallRecord[] = [];
    const { client } = await setup((req) => (req.method === 'PowerOnVM_Task' ? { status: 500, body: fixture('49-') } : undefined), { calls });
    await expect(client.powerOn({ type: 'VirtualMachine', value: 'vm-99999' })).rejects.toBeInstanceOf(ManagedObjectNotFound);
    expect(calls.map((c) => [c.method, c.fault])).toEqual([
      ['RetrieveServiceContent', undefined],
      ['Login', undefined],
      ['PowerOnVM_Task', 'ManagedObjectNotFound'],
    ]);
    expect(calls.every((c) => c.vcenter === 'vc1' && c.durationMs >= 0)).toBe(true);
    expect(client.calls.PowerOnVM_Task).toMatchObject({ calls: 1, faults: 1 });
  });
});

describe('reads', () => {
  const page = (names: [string, string][], token?: string) =>
    (token ? `<returnval><token>${token}</token>` : '<returnval>') +
    names.map(([id, name]) => `<objects><obj type="VirtualMachine">${id}</obj><propSet><name>name</name><val xsi:type="xsd:string">${name}</val></propSet><propSet><name>runtime.cryptoState</name><val xsi:type="VirtualMachineCryptoState">locked</val></propSet></objects>`).join('') +
    '</returnval>';

  it('listVmStates pages with ContinueRetrievePropertiesEx and reuses one ContainerView', async () => {
    const { client, server } = await setup((req) => {
      if (req.method === 'CreateContainerView') return { body: fixture('03-') };
      if (req.method === 'RetrievePropertiesEx') return { body: envelope('RetrievePropertiesEx', page([['vm-1', 'a'], ['vm-2', 'b']], 'tok-1')) };
      if (req.method === 'ContinueRetrievePropertiesEx') return { body: envelope('ContinueRetrievePropertiesEx', page([['vm-3', 'c']])) };
      return undefined;
    });
    const first = await client.listVmStates();
    expect(first.map((v) => [v.moref.value, v.name, v.cryptoState])).toEqual([
      ['vm-1', 'a', 'locked'],
      ['vm-2', 'b', 'locked'],
      ['vm-3', 'c', 'locked'],
    ]);
    expect(server.requests.find((r) => r.method === 'ContinueRetrievePropertiesEx')!.body).toMatch(/token>tok-1</);
    expect(server.requests.find((r) => r.method === 'RetrievePropertiesEx')!.body).toMatch(/maxObjects>1000</);
    await client.listVmStates();
    expect(server.requests.filter((r) => r.method === 'CreateContainerView')).toHaveLength(1);
  });

  it('getVmCryptoSnapshots maps a VM that no longer exists to null and still returns the others', async () => {
    const { client, server } = await setup((req) => {
      if (req.method !== 'RetrievePropertiesEx') return undefined;
      if (req.body.includes('vm-99999')) return { status: 500, body: fixture('50-') };
      return { body: fixture('33-') };
    });
    const snaps = await client.getVmCryptoSnapshots([
      { type: 'VirtualMachine', value: 'vm-65' },
      { type: 'VirtualMachine', value: 'vm-99999' },
    ]);
    expect(snaps.get('vm-99999')).toBeNull();
    expect(snaps.get('vm-65')?.disks.map((d) => d.key)).toEqual([204, 205]);
    expect(server.requests.filter((r) => r.method === 'RetrievePropertiesEx')).toHaveLength(2);
    const sent = server.requests.filter((r) => r.method === 'RetrievePropertiesEx')[0]!.body;
    expect(sent).toMatch(/reportMissingObjectsInResults>true</);
    expect(sent).toMatch(/pathSet>config\.hardware\.device</);
  });
});

const taskUpdate = (version: string, task: string, state: string, extra = '') =>
  envelope(
    'WaitForUpdatesEx',
    `<returnval><version>${version}</version><filterSet><filter type="PropertyFilter">f-1</filter><objectSet><kind>enter</kind><obj type="Task">${task}</obj>` +
      `<changeSet><name>info.state</name><op>assign</op><val xsi:type="TaskInfoState">${state}</val></changeSet>${extra}</objectSet></filterSet></returnval>`,
  );

describe('waitForTask', () => {
  it('resolves through ONE shared collector and filter on TaskManager.recentTask, also for a task already finished', async () => {
    let waits = 0;
    const { client, server } = await setup((req) => {
      if (req.method === 'CreatePropertyCollector') return { body: envelope('CreatePropertyCollector', moRet('PropertyCollector', 'session[x]pc-1')) };
      if (req.method === 'CreateFilter') return { body: envelope('CreateFilter', moRet('PropertyFilter', 'f-1')) };
      if (req.method === 'CryptoUnlock_Task') return { body: envelope('CryptoUnlock_Task', moRet('Task', 'task-7')) };
      if (req.method === 'WaitForUpdatesEx') {
        waits++;
        return { body: taskUpdate(String(waits), 'task-7', 'success', '<changeSet><name>info.result</name><op>assign</op></changeSet>') };
      }
      return undefined;
    });
    const task = await client.cryptoUnlock({ type: 'VirtualMachine', value: 'vm-1' });
    const info = await client.waitForTask(task);
    expect(info).toMatchObject({ task: { type: 'Task', value: 'task-7' }, state: 'success' });
    const again = await client.waitForTask(task);
    expect(again.state).toBe('success');
    const filter = server.requests.find((r) => r.method === 'CreateFilter')!.body;
    expect(filter).toMatch(/xsi:type="TraversalSpec"/);
    expect(filter).toMatch(/<(?:\w+:)?type>TaskManager<\/(?:\w+:)?type><(?:\w+:)?path>recentTask</);
    expect(filter).toMatch(/pathSet>info\.state</);
    expect(server.requests.filter((r) => r.method === 'CreatePropertyCollector')).toHaveLength(1);
    expect(server.requests.filter((r) => r.method === 'WaitForUpdatesEx')).toHaveLength(1);
    expect(server.requests.find((r) => r.method === 'WaitForUpdatesEx')!.body).toMatch(/<(?:\w+:)?version><\/(?:\w+:)?version>/);
  });

  it('rejects with the typed fault of a failed task', async () => {
    const error =
      '<changeSet><name>info.error</name><op>assign</op><val xsi:type="LocalizedMethodFault"><fault xsi:type="EncryptionKeyRequired"><requiredKey><keyId>k-1</keyId><providerId><id>kp</id></providerId></requiredKey></fault><localizedMessage>key k-1 is missing</localizedMessage></val></changeSet>';
    const { client } = await setup((req) => {
      if (req.method === 'CreatePropertyCollector') return { body: envelope('CreatePropertyCollector', moRet('PropertyCollector', 'pc-1')) };
      if (req.method === 'CreateFilter') return { body: envelope('CreateFilter', moRet('PropertyFilter', 'f-1')) };
      if (req.method === 'WaitForUpdatesEx') return { body: taskUpdate('1', 'task-9', 'error', error) };
      return undefined;
    });
    const err = await client.waitForTask({ type: 'Task', value: 'task-9' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VimFault);
    expect((err as VimFault).name).toBe('EncryptionKeyRequired');
    expect((err as Error).message).toBe('key k-1 is missing');
    expect((err as { requiredKey: unknown }).requiredKey).toEqual([{ keyId: 'k-1', providerId: { id: 'kp' } }]);
  });

  it('falls back to a filter on the task itself when recentTask does not show it', async () => {
    let round = 0;
    const { client, server } = await setup((req) => {
      if (req.method === 'CreatePropertyCollector') return { body: envelope('CreatePropertyCollector', moRet('PropertyCollector', 'pc-1')) };
      if (req.method === 'CreateFilter') return { body: envelope('CreateFilter', moRet('PropertyFilter', `f-${server!.requests.length}`)) };
      if (req.method === 'DestroyPropertyFilter') return { body: envelope('DestroyPropertyFilter', '') };
      if (req.method === 'WaitForUpdatesEx') {
        round++;
        return round === 1 ? { body: envelope('WaitForUpdatesEx', '') } : { body: taskUpdate('2', 'task-3', 'success') };
      }
      return undefined;
    });
    const info = await client.waitForTask({ type: 'Task', value: 'task-3' }, { timeoutMs: 10_000 });
    expect(info.state).toBe('success');
    const filters = server.requests.filter((r) => r.method === 'CreateFilter');
    expect(filters).toHaveLength(2);
    expect(filters[1]!.body).toMatch(/<(?:\w+:)?obj type="Task">task-3</);
  });
});

describe('watchObjects', () => {
  it('delivers the initial batch, carries the version, cancels on abort and cleans up', async () => {
    const controller = new AbortController();
    const batches: { updates: ObjectUpdate[]; initial: boolean; version: string }[] = [];
    const { client, server } = await setup((req) => {
      if (req.method === 'CreateContainerView') return { body: fixture('03-') };
      if (req.method === 'CreatePropertyCollector') return { body: envelope('CreatePropertyCollector', moRet('PropertyCollector', 'pc-w')) };
      if (req.method === 'CreateFilter') return { body: fixture('07-') };
      if (req.method === 'WaitForUpdatesEx') {
        if (req.body.match(/version><\/|version\/>/)) return { body: fixture('08-') };
        if (req.body.includes('>-<')) return { body: fixture('11-') };
        return { body: envelope('WaitForUpdatesEx', ''), delayMs: 200 };
      }
      if (req.method === 'CancelWaitForUpdates') return { body: envelope('CancelWaitForUpdates', '') };
      if (/^Destroy/.test(req.method)) return { body: envelope(req.method, '') };
      return undefined;
    });
    await client.watchObjects(
      { type: 'VirtualMachine', paths: ['name', 'runtime.powerState'] },
      (updates, meta) => {
        batches.push({ updates, ...meta });
        if (batches.length === 2) controller.abort();
      },
      { signal: controller.signal, maxWaitSeconds: 10 },
    );
    expect(batches[0]!.initial).toBe(true);
    expect(batches[0]!.updates).toHaveLength(4);
    expect(batches[1]).toMatchObject({ initial: false, version: '-' });
    expect(batches[1]!.updates[0]!.changeSet).toEqual([{ name: 'runtime.powerState', op: 'assign', val: 'poweredOff' }]);
    const methods = server.requests.map((r) => r.method);
    expect(methods).toContain('DestroyPropertyFilter');
    expect(methods).toContain('DestroyPropertyCollector');
    expect(methods).toContain('DestroyView');
  });

  it('rejects with the fault that stopped it, and cleanup errors do not replace it', async () => {
    const { client } = await setup((req) => {
      if (req.method === 'CreateContainerView') return { body: fixture('03-') };
      if (req.method === 'CreatePropertyCollector') return { body: envelope('CreatePropertyCollector', moRet('PropertyCollector', 'pc-w')) };
      if (req.method === 'CreateFilter') return { body: fixture('07-') };
      if (req.method === 'WaitForUpdatesEx') return { status: 500, body: fixture('49-') };
      if (/^Destroy/.test(req.method)) return { status: 503, body: 'down' };
      return undefined;
    });
    const err = await client
      .watchObjects({ type: 'VirtualMachine', paths: ['name'] }, () => undefined, { signal: new AbortController().signal, maxWaitSeconds: 5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManagedObjectNotFound);
  });
});
