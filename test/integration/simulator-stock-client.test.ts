import soap from 'soap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';

/**
 * A stock third-party SOAP client (the `soap` package with its own parser and
 * the project's local vim25 WSDL subset, read only) works against the
 * simulator: ServiceContent, Login with the session cookie, a property read, a
 * typed fault.
 */
const WSDL = new URL('../../src/vsphere/wsdl/vim25.wsdl', import.meta.url).pathname;
const mo = (type: string, value: string) => ({ attributes: { type }, $value: value });
/** The WSDL subset may declare returnval with maxOccurs > 1. */
const one = <T,>(v: T | T[]): T => (Array.isArray(v) ? (v[0] as T) : v);

describe('a stock soap client against the simulator', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'mixed', logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => sim.stop());

  it('calls RetrieveServiceContent, Login, CurrentTime, RetrievePropertiesEx and gets InvalidLogin as a fault', async () => {
    const client = await soap.createClientAsync(WSDL, { endpoint: sim.url });
    const [sc] = (await client.RetrieveServiceContentAsync({ _this: mo('ServiceInstance', 'ServiceInstance') })) as [{ returnval: { rootFolder: { $value: string }; about: { apiVersion: string } } }];
    const content = one(sc.returnval);
    expect(content.rootFolder.$value).toBe('group-d1');
    expect(content.about.apiVersion).toBe('8.0.3.0');
    const [login] = (await client.LoginAsync({ _this: mo('SessionManager', 'SessionManager'), userName: sim.user, password: sim.password })) as [{ returnval: { userName: string } }];
    expect(one(login.returnval).userName).toBe(sim.user);
    const cookie = String((client.lastResponseHeaders as Record<string, unknown> | undefined)?.['set-cookie']).split(';')[0] as string;
    expect(cookie).toMatch(/^vmware_soap_session=/);
    client.addHttpHeader('Cookie', cookie);
    const [time] = (await client.CurrentTimeAsync({ _this: mo('ServiceInstance', 'ServiceInstance') })) as [{ returnval: unknown }];
    expect(time.returnval).toBeTruthy();
    const [r] = (await client.RetrievePropertiesExAsync({
      _this: mo('PropertyCollector', 'propertyCollector'),
      specSet: [{ propSet: [{ type: 'VirtualMachine', pathSet: ['name'] }], objectSet: [{ obj: mo('Folder', 'group-v3'), skip: true, selectSet: [{ attributes: { 'xsi:type': 'TraversalSpec' }, name: 'f', type: 'Folder', path: 'childEntity', skip: false }] }] }],
      options: {},
    })) as [{ returnval: { objects: unknown[] } }];
    const objects = one(r.returnval).objects;
    expect(Array.isArray(objects) ? objects.length : 1).toBeGreaterThan(5);
    await expect(client.LoginAsync({ _this: mo('SessionManager', 'SessionManager'), userName: 'nobody', password: 'nope' })).rejects.toMatchObject({
      root: { Envelope: { Body: { Fault: { faultcode: 'ServerFaultCode' } } } },
    });
  });
});
