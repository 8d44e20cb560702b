import { FIXTURES_DIR } from '../helpers/fixtures.ts';
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { startSimulator, SimControl, type RunningSimulator } from '../../src/simulator/index.ts';
import { objSpec, SoapProbe } from '../../src/simulator/soap-probe.ts';

/**
 * The simulator's answers have the shapes of the recorded ones
 * (../shared/fixtures): same elements in the same order, same fault details.
 */
const FIX = FIXTURES_DIR;
const ordered = new XMLParser({ preserveOrder: true, ignoreAttributes: false, removeNSPrefix: true, attributeNamePrefix: '@' });

type ONode = Record<string, unknown>;
const tagOf = (n: ONode): string => Object.keys(n).find((k) => k !== ':@') as string;

/** Child element names (in order) of the first element named `name`, searched depth first; throws when absent. */
function childrenOf(xml: string, name: string): string[] {
  const find = (nodes: ONode[]): string[] | undefined => {
    for (const n of nodes) {
      const tag = tagOf(n);
      if (!tag || tag === '#text') continue;
      const kids = n[tag] as ONode[];
      if (tag === name) return kids.map(tagOf).filter((t) => t !== '#text');
      const r = find(kids);
      if (r) return r;
    }
    return undefined;
  };
  const found = find(ordered.parse(xml) as ONode[]);
  if (!found) throw new Error(`no <${name}> in ${xml.slice(0, 300)}`);
  return found;
}

/** Elements both lists have, in `a`'s order; the two must agree on it. */
function commonOrder(a: string[], b: string[]): [string[], string[]] {
  const uniq = (l: string[]) => l.filter((x, i) => l.indexOf(x) === i);
  const inB = new Set(b);
  const inA = new Set(a);
  return [uniq(a).filter((x) => inB.has(x)), uniq(b).filter((x) => inA.has(x))];
}

const fixture = (path: string) => readFileSync(`${FIX}/${path}`, 'utf8');
const detailOf = (xml: string) => /<detail>(.*)<\/detail>/s.exec(xml)?.[1]?.replace(/>\s+</g, '><').trim();

describe('simulator answers have the recorded shapes', () => {
  let sim: RunningSimulator;
  let p: SoapProbe;
  let vm: string;
  beforeAll(async () => {
    sim = await startSimulator({ scenario: 'mixed', logger: createLogger({ level: 'silent' }), taskDurationsMs: { default: 10 } });
    p = new SoapProbe(sim.url);
    await p.login(sim.user, sim.password);
    vm = (await new SimControl(sim.controlUrl).vm('host-rebooted')).moref;
  });
  afterAll(async () => sim.stop());

  it('ServiceContent and UserSession: same fields in the same order as real vCenter 8.0.3', async () => {
    const sc = await new SoapProbe(sim.url).call('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance');
    const [mine, real] = commonOrder(childrenOf(sc.text, 'returnval'), childrenOf(fixture('real-vcenter/01-retrieveservicecontent-vc803.xml'), 'returnval'));
    expect(mine).toEqual(real);
    expect(mine).toEqual(expect.arrayContaining(['rootFolder', 'propertyCollector', 'about', 'sessionManager', 'taskManager', 'cryptoManager']));
    expect(childrenOf(sc.text, 'about')).toEqual(childrenOf(fixture('real-vcenter/01-retrieveservicecontent-vc803.xml'), 'about'));
    const login = await new SoapProbe(sim.url).login(sim.user, sim.password);
    expect(childrenOf(login.text, 'returnval')).toEqual(childrenOf(fixture('real-vcenter/02-login-usersession-vc803.xml'), 'returnval'));
  });

  it('AlarmState and TaskInfo: the recorded element order', async () => {
    const a = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('VirtualMachine', vm, ['triggeredAlarmState'])}</specSet><options/>`);
    expect(childrenOf(a.text, 'AlarmState')).toEqual(childrenOf(fixture('real-vcenter/18-fetch-arrayofalarmstate-vc803.xml'), 'AlarmState'));
    const t = /<returnval type="Task">(task-\d+)</.exec((await p.call('PowerOffVM_Task', 'VirtualMachine', (await new SimControl(sim.controlUrl).vm('healthy')).moref)).text)?.[1] as string;
    await new Promise((r) => setTimeout(r, 100));
    const info = await p.call('RetrievePropertiesEx', 'PropertyCollector', 'propertyCollector', `<specSet>${objSpec('Task', t, ['info'])}</specSet><options/>`);
    const [mine, real] = commonOrder(childrenOf(info.text, 'val'), childrenOf(fixture('real-vcenter/21-retrieveproperties-taskinfo-success-vc5x.xml'), 'val'));
    expect(mine).toEqual(real);
    expect(mine.length).toBeGreaterThanOrEqual(12);
  });

  it('faults: the same detail elements as the recorded ones', async () => {
    const bad = new SoapProbe(sim.url);
    bad.cookie = 'vmware_soap_session="00000000-dead-beef-0000-000000000000"';
    const na = await bad.call('CreateContainerView', 'ViewManager', 'ViewManager', '<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>');
    expect(detailOf(na.text)).toBe(detailOf(fixture('vcsim/45-CreateContainerView-invalid-cookie.response.xml')));
    const mo = await p.call('PowerOnVM_Task', 'VirtualMachine', 'vm-99999');
    expect(detailOf(mo.text)).toBe(detailOf(fixture('vcsim/49-PowerOnVM_Task-nonexistent-moref.response.xml')));
    const login = await new SoapProbe(sim.url).login('user', 'wrong-password');
    expect(detailOf(login.text)).toBe(detailOf(fixture('real-vcenter/03-fault-invalidlogin-vc60.xml')));
    const perm = await p.call('CryptoUnlock_Task', 'VirtualMachine', (await new SimControl(sim.controlUrl).vm('missing-privilege')).moref);
    expect(childrenOf(perm.text, 'NoPermissionFault')).toEqual(childrenOf(fixture('real-vcenter/25-fault-nopermission.xml'), 'NoPermissionFault'));
  });

  it('WaitForUpdatesEx timeout, QueryCryptoKeyStatus and ListKmipServers: as vcsim recorded them', async () => {
    const w = await p.call('WaitForUpdatesEx', 'PropertyCollector', 'propertyCollector', '<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>');
    expect(w.text).toContain('<WaitForUpdatesExResponse xmlns="urn:vim25"></WaitForUpdatesExResponse>');
    const key = (await new SimControl(sim.controlUrl).vm('home-key-missing-in-kms')).keyId as { keyId: string; providerId: string };
    const q = await p.call('QueryCryptoKeyStatus', 'CryptoManagerKmip', 'CryptoManager', `<keyIds><keyId>${key.keyId}</keyId><providerId><id>${key.providerId}</id></providerId></keyIds><checkKeyBitMap>1</checkKeyBitMap>`);
    expect(childrenOf(q.text, 'returnval')).toEqual(['keyId', 'keyAvailable', 'reason']);
    const recorded = fixture('vcsim/34-QueryCryptoKeyStatus.response.xml');
    expect(recorded).toContain('<keyAvailable>false</keyAvailable><reason>KeyStateMissingInKMS</reason>');
    expect(q.text).toContain('<keyAvailable>false</keyAvailable><reason>KeyStateMissingInKMS</reason>');
    const l = await p.call('ListKmipServers', 'CryptoManagerKmip', 'CryptoManager');
    expect(childrenOf(l.text, 'returnval')).toEqual(childrenOf(fixture('vcsim/22-ListKmipServers.response.xml'), 'returnval'));
    expect(childrenOf(l.text, 'servers')).toEqual(childrenOf(fixture('vcsim/22-ListKmipServers.response.xml'), 'servers'));
  });
});
