import { VCSIM_DIR } from '../helpers/fixtures.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereClient } from '../../src/vsphere/client.ts';
import { startReplayServer, type ReplayServer } from '../../src/vsphere/replay-server.ts';
import { containerViewObjectSpec, filterSpec, propertySpec } from '../../src/vsphere/specs.ts';
import { child, parseXml, type XNode } from '../../src/vsphere/xml.ts';

/**
 * Requests built by the client (WSDL + soap serialisation) are compared element
 * by element, order included, with what was recorded going to vcsim. Prefixes
 * and whitespace are normalised by parsing both sides the same way.
 */
const VCSIM = VCSIM_DIR;
const fixture = (prefix: string, kind: 'request' | 'response') => readFileSync(VCSIM + readdirSync(VCSIM).find((f) => f.startsWith(prefix) && f.endsWith(`.${kind}.xml`))!, 'utf8');

function elementSequence(xml: string): string[] {
  const root = parseXml(xml);
  const payload = child(root, 'Body')!.children[0]!;
  const out: string[] = [];
  const walk = (n: XNode, depth: number): void => {
    const leaf = n.children.length === 0 ? `=${n.text.trim()}` : '';
    const xsi = n.xsiType ? ` xsi:type=${n.xsiType}` : '';
    const type = n.attrs.type !== undefined ? ` type=${n.attrs.type}` : '';
    out.push(`${'  '.repeat(depth)}${n.name}${xsi}${type}${leaf}`);
    for (const c of n.children) walk(c, depth + 1);
  };
  walk(payload, 0);
  return out;
}

let server: ReplayServer;
let client: VsphereClient;
const answers: Record<string, string> = { RetrieveServiceContent: '01-', Login: '02-' };
const SESSION = 'f67815cf-3a39-42b2-9be6-ee45e2772723';

beforeAll(async () => {
  server = await startReplayServer((req) => {
    const prefix = answers[req.method];
    if (!prefix) return { status: 500, body: '<x/>' };
    const headers: Record<string, string> = req.method === 'Login' ? { 'Set-Cookie': `vmware_soap_session=${SESSION}; HttpOnly` } : {};
    const status = /HTTP\/1.1 500/.test(readFileSync(VCSIM + readdirSync(VCSIM).find((f) => f.startsWith(prefix) && f.endsWith('.meta.txt'))!, 'utf8')) ? 500 : 200;
    return { status, body: fixture(prefix, 'response'), headers };
  });
  client = new VsphereClient({ name: 'vc', url: server.url, user: 'user', password: 'pass', callTimeoutMs: 30_000 });
  await client.connect();
});

afterAll(async () => {
  await server.stop();
});

function lastRequestOf(method: string): string {
  const r = [...server.requests].reverse().find((q) => q.method === method);
  if (!r) throw new Error(`no ${method} request recorded`);
  return r.body;
}

const VIEW = { type: 'ContainerView', value: `session[${SESSION}]35ecf138-daae-478a-b134-a7ee742f13b4` };
const VM65 = { type: 'VirtualMachine', value: 'vm-65' };

describe('requests match the recorded vim25 requests', () => {
  it('02 Login (and the session cookie is sent afterwards, with the SOAPAction version)', () => {
    expect(elementSequence(lastRequestOf('Login'))).toEqual(elementSequence(fixture('02-', 'request')));
    expect(server.requests[1]!.soapAction).toBe('"urn:vim25/8.0.3.0"');
  });

  it('03 CreateContainerView', async () => {
    answers.CreateContainerView = '03-';
    const view = await client.CreateContainerView(client.serviceContent.rootFolder, ['VirtualMachine'], true);
    expect(view.type).toBe('ContainerView');
    expect(elementSequence(lastRequestOf('CreateContainerView'))).toEqual(elementSequence(fixture('03-', 'request')));
    expect(server.requests.at(-1)!.cookie).toBe(`vmware_soap_session=${SESSION}`);
  });

  it('04 RetrievePropertiesEx over a ContainerView with a TraversalSpec', async () => {
    answers.RetrievePropertiesEx = '04-';
    const paths = ['name', 'config.keyId', 'config.hardware.device', 'config.bootOptions', 'runtime.powerState', 'runtime.host', 'runtime.connectionState', 'runtime.cryptoState', 'triggeredAlarmState', 'summary'];
    const res = await client.RetrievePropertiesEx([filterSpec([propertySpec('VirtualMachine', paths)], [containerViewObjectSpec(VIEW)])], { maxObjects: 100 });
    expect(res.objects).toHaveLength(4);
    expect(elementSequence(lastRequestOf('RetrievePropertiesEx'))).toEqual(elementSequence(fixture('04-', 'request')));
  });

  it('07 CreateFilter', async () => {
    answers.CreateFilter = '07-';
    await client.createViewFilter(client.serviceContent.propertyCollector, VIEW, 'VirtualMachine', ['name', 'runtime.powerState', 'runtime.connectionState', 'config.keyId', 'triggeredAlarmState']);
    expect(elementSequence(lastRequestOf('CreateFilter'))).toEqual(elementSequence(fixture('07-', 'request')));
  });

  it('08 WaitForUpdatesEx with version ""', async () => {
    answers.WaitForUpdatesEx = '08-';
    const u = await client.WaitForUpdatesEx(client.serviceContent.propertyCollector, '', { maxWaitSeconds: 10 });
    expect(u?.updates).toHaveLength(4);
    expect(elementSequence(lastRequestOf('WaitForUpdatesEx'))).toEqual(elementSequence(fixture('08-', 'request')));
  });

  it('13 CreateCollectorForEvents and 14 ReadNextEvents', async () => {
    answers.CreateCollectorForEvents = '13-';
    answers.ReadNextEvents = '14-';
    const collector = await client.createEventCollector({ entity: { entity: VM65, recursion: 'self' } });
    expect(elementSequence(lastRequestOf('CreateCollectorForEvents'))).toEqual(elementSequence(fixture('13-', 'request')));
    const fixtureCollector = { type: 'EventHistoryCollector', value: `session[${SESSION}]7d02678b-363c-4a72-b1c4-21211687ce95` };
    expect(collector.moref).toEqual(fixtureCollector);
    const events = await collector.readNext(10);
    expect(events).toHaveLength(8);
    expect(elementSequence(lastRequestOf('ReadNextEvents'))).toEqual(elementSequence(fixture('14-', 'request')));
  });

  it('15 GetAlarm without entity', async () => {
    answers.GetAlarm = '15-';
    expect(await client.GetAlarm()).toHaveLength(3);
    expect(elementSequence(lastRequestOf('GetAlarm'))).toEqual(elementSequence(fixture('15-', 'request')));
  });

  it('22 ListKmipServers, 26 ListKeys, 34 QueryCryptoKeyStatus', async () => {
    answers.ListKmipServers = '22-';
    answers.ListKeys = '26-';
    answers.QueryCryptoKeyStatus = '34-';
    expect((await client.listKmipServers())[0]!.clusterId.id).toBe('kp-test');
    expect(elementSequence(lastRequestOf('ListKmipServers'))).toEqual(elementSequence(fixture('22-', 'request')));
    expect(await client.listKeys()).toHaveLength(3);
    expect(elementSequence(lastRequestOf('ListKeys'))).toEqual(elementSequence(fixture('26-', 'request')));
    const kp = { id: 'kp-test' };
    const status = await client.queryCryptoKeyStatus(
      [
        { keyId: '4862ac1a-86db-4352-8032-907173a7621f', providerId: kp },
        { keyId: '64eb8033-1d71-40d8-994e-603f3fa8d45e', providerId: kp },
        { keyId: '00000000-0000-0000-0000-000000000000', providerId: kp },
        { keyId: '4862ac1a-86db-4352-8032-907173a7621f', providerId: { id: 'no-such-provider' } },
      ],
      3,
    );
    expect(status).toHaveLength(4);
    expect(elementSequence(lastRequestOf('QueryCryptoKeyStatus'))).toEqual(elementSequence(fixture('34-', 'request')));
  });

  it('35 detachDisk: ReconfigVM_Task remove with no fileOperation', async () => {
    answers.ReconfigVM_Task = '35-';
    const task = await client.detachDisk(VM65, 205, {
      key: 205,
      backingType: 'VirtualDiskFlatVer2BackingInfo',
      fileName: '[LocalDS_0] DC0_H0_VM1/DC0_H0_VM1_1.vmdk',
      datastore: { type: 'Datastore', value: 'datastore-59' },
      diskMode: 'persistent',
      thinProvisioned: true,
      keyId: { keyId: '45dec7e7-f2f1-4328-b611-c4f4ca56f738', providerId: { id: 'kp-test' } },
      controllerKey: 202,
      unitNumber: 1,
      capacityInKB: 1048576,
    });
    expect(task.type).toBe('Task');
    const sent = lastRequestOf('ReconfigVM_Task');
    expect(sent).not.toMatch(/fileOperation/);
    expect(elementSequence(sent)).toEqual(elementSequence(fixture('35-', 'request')));
  });

  it('44 CryptoUnlock_Task (vcsim answers MethodNotFound) and 49 PowerOnVM_Task', async () => {
    answers.CryptoUnlock_Task = '44-';
    await expect(client.cryptoUnlock(VM65)).rejects.toMatchObject({ name: 'MethodNotFound' });
    expect(elementSequence(lastRequestOf('CryptoUnlock_Task'))).toEqual(elementSequence(fixture('44-', 'request')));
    answers.PowerOnVM_Task = '49-';
    await expect(client.powerOn({ type: 'VirtualMachine', value: 'vm-99999' })).rejects.toMatchObject({ name: 'ManagedObjectNotFound', obj: { type: 'VirtualMachine', value: 'vm-99999' } });
    expect(elementSequence(lastRequestOf('PowerOnVM_Task'))).toEqual(elementSequence(fixture('49-', 'request')));
  });

  it('52 Logout on close', async () => {
    answers.Logout = '52-';
    await client.close();
    expect(elementSequence(lastRequestOf('Logout'))).toEqual(elementSequence(fixture('52-', 'request')));
    await client.close();
    expect(server.requests.filter((r) => r.method === 'Logout')).toHaveLength(1);
  });
});
