import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl, type RunningSimulator } from '../../src/simulator/index.ts';
import { SoapProbe } from '../../src/simulator/soap-probe.ts';

const logger = createLogger({ level: 'silent' });
const FIXTURES = FIXTURES_DIR;

describe('simulator SOAP core over HTTP', () => {
  let sim: RunningSimulator;
  let ctl: SimControl;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'mixed', port: 0, logger });
    ctl = new SimControl(sim.controlUrl);
  });
  afterAll(async () => sim.stop());

  it('answers RetrieveServiceContent without a session, in the vpxd envelope', async () => {
    const p = new SoapProbe(sim.url);
    const a = await p.call('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance');
    expect(a.status).toBe(200);
    // Same envelope start as the recorded real vCenter 8.0.3 answer.
    const real = readFileSync(`${FIXTURES}/real-vcenter/01-retrieveservicecontent-vc803.xml`, 'utf8');
    const head = (s: string) => s.slice(0, s.indexOf('<RetrieveServiceContentResponse'));
    expect(head(a.text)).toBe(head(real));
    expect(a.text).toContain('<cryptoManager type="CryptoManagerKmip">CryptoManager</cryptoManager>');
    expect(a.text).toContain('<rootFolder type="Folder">group-d1</rootFolder>');
    const rv = a.body.returnval as Record<string, { '#text'?: string; apiVersion?: string }>;
    expect(rv.about?.apiVersion).toBe('8.0.3.0');
    expect(rv.taskManager?.['#text']).toBe('TaskManager');
  });

  it('logs in, sets vmware_soap_session and accepts it back (quoted or not)', async () => {
    const p = new SoapProbe(sim.url);
    const a = await p.login(sim.user, sim.password);
    expect(a.status).toBe(200);
    expect(a.setCookie).toMatch(/^vmware_soap_session="[0-9a-f-]{36}"; Path=\/; HttpOnly$/);
    const key = (a.body.returnval as { key: string }).key;
    expect(a.setCookie).toContain(key);
    expect(a.text).not.toContain(sim.password);
    const t = await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance');
    expect(t.status).toBe(200);
    p.cookie = `vmware_soap_session=${key}`;
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).status).toBe(200);
  });

  it('rejects a wrong password with InvalidLogin shaped like the real fault (fixture 03)', async () => {
    const p = new SoapProbe(sim.url);
    const a = await p.login(sim.user, 'wrong');
    expect(a.status).toBe(500);
    expect(a.fault).toBe('InvalidLogin');
    expect(a.text).toContain('<faultcode>ServerFaultCode</faultcode>');
    expect(a.text).toContain('<detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail>');
    expect(a.text).not.toContain('wrong');
    expect(a.setCookie).toBeUndefined();
  });

  it('answers calls without a session with NotAuthenticated naming the object', async () => {
    const p = new SoapProbe(sim.url);
    p.cookie = 'vmware_soap_session="00000000-dead-beef-0000-000000000000"';
    const a = await p.call('CreateContainerView', 'ViewManager', 'ViewManager', '<container type="Folder">group-d1</container><recursive>true</recursive>');
    expect(a.status).toBe(500);
    expect(a.fault).toBe('NotAuthenticated');
    expect(a.text).toContain('<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="ViewManager">ViewManager</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault>');
  });

  it('answers bad requests with the vim25 fault vCenter uses, never a crash', async () => {
    const p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    const unknown = await p.call('NoSuchMethod', 'ServiceInstance', 'ServiceInstance');
    expect(unknown.fault).toBe('MethodNotFound');
    expect(unknown.text).toContain('<method>NoSuchMethod</method>');

    const wrongReceiver = await p.call('CryptoUnlock_Task', 'Folder', 'group-d1');
    expect(wrongReceiver.fault).toBe('MethodNotFound');

    const missing = await p.call('PowerOnVM_Task', 'VirtualMachine', 'vm-99999');
    expect(missing.fault).toBe('ManagedObjectNotFound');
    expect(missing.text).toContain('<obj type="VirtualMachine">vm-99999</obj>');

    const malformed = await p.raw('<soapenv:Envelope><soapenv:Body><Login></soapenv:Body>');
    expect(malformed.status).toBe(500);
    expect(malformed.fault).toBe('InvalidRequest');

    const empty = await p.raw('');
    expect(empty.fault).toBe('InvalidRequest');

    const noThis = await p.raw('<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><CurrentTime xmlns="urn:vim25"/></Body></Envelope>');
    expect(noThis.fault).toBe('InvalidRequest');
    expect(noThis.faultString).toContain('_this');

    const badInt = await p.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>soon</maxWaitSeconds></options>');
    expect(badInt.fault).toBe('InvalidType');
    expect(badInt.faultString).toContain('maxWaitSeconds');

    const badProp = await p.call(
      'RetrievePropertiesEx',
      'PropertyCollector',
      'propertyCollector',
      '<specSet><propSet><type>VirtualMachine</type><pathSet>noSuchProperty</pathSet></propSet><objectSet><obj type="VirtualMachine">vm-15</obj></objectSet></specSet><options></options>',
    );
    expect(badProp.fault).toBe('InvalidProperty');

    // Still serving.
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).status).toBe(200);
    const res = await fetch(sim.url, { method: 'GET' });
    expect(res.status).toBe(405);
  });

  it('survives hostile and odd requests with faults, and keeps serving', async () => {
    const p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    const env = (inner: string) => `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>${inner}</Body></Envelope>`;
    const bodies = [
      env('<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName><a>x</a></userName></Login>'),
      env('<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>VirtualMachine</type></propSet><objectSet><obj>vm-1</obj></objectSet></specSet></RetrievePropertiesEx>'),
      env('<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>VirtualMachine</type></propSet></specSet></RetrievePropertiesEx>'),
      env('<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><__proto__><polluted>1</polluted></__proto__></RetrievePropertiesEx>'),
      env('<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">vm-16</_this><spec><deviceChange><operation>remove</operation><device><key>abc</key></device></deviceChange></spec></ReconfigVM_Task>'),
      env('<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">vm-16</_this><spec><deviceChange><operation>add</operation><device><key>1</key></device></deviceChange></spec></ReconfigVM_Task>'),
      env('<QueryCryptoKeyStatus xmlns="urn:vim25"><_this type="CryptoManagerKmip">CryptoManager</_this><keyIds><providerId/></keyIds><checkKeyBitMap>1</checkKeyBitMap></QueryCryptoKeyStatus>'),
      env('<CreateCollectorForEvents xmlns="urn:vim25"><_this type="EventManager">EventManager</_this><filter><time><beginTime>yesterday</beginTime></time></filter></CreateCollectorForEvents>'),
      env('<WaitForUpdatesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><version>not-a-version</version></WaitForUpdatesEx>'),
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><Envelope><Body><x>&a;&a;&a;</x></Body></Envelope>',
      'x'.repeat(100_000),
    ];
    const expected = ['InvalidRequest', 'InvalidType', 'InvalidArgument', 'InvalidRequest', 'InvalidType', 'NotSupported', 'InvalidArgument', 'InvalidType', 'InvalidCollectorVersion', 'InvalidRequest', 'InvalidRequest'];
    const got: (string | undefined)[] = [];
    for (const b of bodies) {
      const a = await p.raw(b);
      expect(a.status).toBe(500);
      got.push(a.fault);
    }
    expect(got.join(",")).toBe(expected.join(","));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).status).toBe(200);
  });

  it('accepts govc-style envelopes (default namespace, no prefixes)', async () => {
    const p = new SoapProbe(sim.url);
    const req = readFileSync(`${FIXTURES}/vcsim/54-govc-collect-keyId-RetrieveServiceContent.request.xml`, 'utf8');
    const a = await p.raw(req);
    expect(a.status).toBe(200);
    expect(a.text).toContain('RetrieveServiceContentResponse');
  });

  it('ends sessions: Logout, /_sim/sessions/expire and the idle timeout all give NotAuthenticated', async () => {
    const p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    await p.call('Logout', 'SessionManager', 'SessionManager');
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).fault).toBe('NotAuthenticated');

    await p.login(sim.user, sim.password);
    expect((await ctl.stats()).sessions).toBeGreaterThan(0);
    await ctl.expireSessions();
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).fault).toBe('NotAuthenticated');

    const short = await startSimulator({ scenario: 'clean', vms: 1, sessionIdleTimeoutMs: 200, logger });
    try {
      const q = new SoapProbe(short.url);
      await q.login(short.user, short.password);
      expect((await q.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
      expect((await q.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).fault).toBe('NotAuthenticated');
    } finally {
      await short.stop();
    }
  });

  it('injects faults and counts calls through the control API', async () => {
    const p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    await ctl.resetStats();
    await ctl.injectFault({ method: 'CurrentTime', fault: 'SystemError', count: 1 });
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).fault).toBe('SystemError');
    expect((await p.call('CurrentTime', 'ServiceInstance', 'ServiceInstance')).status).toBe(200);
    const stats = await ctl.stats();
    expect(stats.calls.CurrentTime).toBe(2);
    expect(stats.callsTotal).toBe(2);
    await expect(ctl.injectFault({ method: 'CurrentTime' })).rejects.toThrow(/fault.*delayMs/);
    const res = await fetch(`${sim.controlUrl}/faults`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/JSON/);
  });

  it('serves HTTPS with --tls and delays calls with latencyMs', async () => {
    const s = await startSimulator({ scenario: 'clean', vms: 1, tls: true, latencyMs: 50, logger });
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/sdk$/);
      const { request } = await import('node:https');
      const text = await new Promise<string>((resolve, reject) => {
        const req = request(s.url, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'text/xml' } }, (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => resolve(t));
        });
        req.on('error', reject);
        req.end('<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent></Body></Envelope>');
      });
      expect(text).toContain('RetrieveServiceContentResponse');
    } finally {
      await s.stop();
    }
  });
});
