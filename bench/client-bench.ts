/**
 * Client figures, in a fresh process so nothing is cached or warmed up:
 *  - wsdlLoadMs: creating the soap client from the local vim25 WSDL
 *    (SoapCaller.create, as VsphereClient does on connect);
 *  - parse10kMs: the client's parse path (parseSoapResponse → returnValues →
 *    retrieveResult → vmStateSummary) on one RetrievePropertiesEx response
 *    holding every VM of a simulator with --parse-vms VMs (10,000), fetched once
 *    with the properties listVmStates reads. The best of five parses (noise
 *    on a shared machine only ever adds time); median and first (cold) too.
 * Usage: tsx bench/client-bench.ts <vms> <out.json>
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const vms = Number(process.argv[2] ?? 10_000);
const outFile = process.argv[3];

const SOAP_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const SOAP_TAIL = '</soapenv:Body></soapenv:Envelope>';

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function envelope(method: string, inner: string): string {
  return `${SOAP_HEAD}<${method} xmlns="urn:vim25">${inner}</${method}>${SOAP_TAIL}`;
}

function ref(tag: string, r: { type: string; value: string }): string {
  return `<${tag} type="${escapeXml(r.type)}">${escapeXml(r.value)}</${tag}>`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  if (!Number.isInteger(vms) || vms < 1) throw new Error(`client-bench: VM count must be a positive integer, got ${process.argv[2]}`);

  // 1. WSDL load. The module import (soap itself) is timed apart from the client creation.
  const tImport = performance.now();
  const { SoapCaller } = await import('../src/vsphere/soap-caller.ts');
  const { HttpTransport } = await import('../src/vsphere/transport.ts');
  const importMs = performance.now() - tImport;
  const tWsdl = performance.now();
  await SoapCaller.create(new HttpTransport({ url: 'http://127.0.0.1:9/sdk', apiVersion: '8.0.3.0' }));
  const wsdlLoadMs = performance.now() - tWsdl;

  // 2. One RetrievePropertiesEx body with every VM, from the simulator itself.
  const { parseSoapResponse, returnValue, returnValues } = await import('../src/vsphere/response.ts');
  const { serviceContent } = await import('../src/vsphere/normalize.ts');
  const { retrieveResult } = await import('../src/vsphere/client.ts');
  const { vmStateSummary, VM_STATE_PATHS } = await import('../src/vsphere/vm-snapshot.ts');
  const { moref } = await import('../src/vsphere/decode.ts');
  const { startSimulator } = await import('../src/simulator/index.ts');

  const sim = await startSimulator({ scenario: 'clean', port: 0, vms, latencyMs: 0, seed: 1 });
  let body: string;
  try {
    const transport = new HttpTransport({ url: sim.url, apiVersion: '8.0.3.0', tls: { insecure: true } });
    const call = async (method: string, inner: string): Promise<string> => {
      const reply = await transport.post(envelope(method, inner), { method, timeoutMs: 300_000 });
      if (reply.status !== 200) throw new Error(`client-bench: ${method} answered HTTP ${reply.status}`);
      return reply.body;
    };
    const sc = serviceContent(returnValue(parseSoapResponse(await call('RetrieveServiceContent', ref('_this', { type: 'ServiceInstance', value: 'ServiceInstance' })), { method: 'RetrieveServiceContent' })));
    if (!sc.sessionManager || !sc.viewManager) throw new Error('client-bench: the simulator\'s ServiceContent lacks sessionManager or viewManager');
    await call('Login', `${ref('_this', sc.sessionManager)}<userName>${escapeXml(sim.user)}</userName><password>${escapeXml(sim.password)}</password>`);
    const view = moref(
      returnValue(parseSoapResponse(await call('CreateContainerView', `${ref('_this', sc.viewManager)}${ref('container', sc.rootFolder)}<type>VirtualMachine</type><recursive>true</recursive>`), { method: 'CreateContainerView' })),
    );
    if (!view) throw new Error('client-bench: CreateContainerView returned no view');
    const paths = VM_STATE_PATHS.map((p) => `<pathSet>${p}</pathSet>`).join('');
    body = await call(
      'RetrievePropertiesEx',
      `${ref('_this', sc.propertyCollector)}<specSet><propSet><type>VirtualMachine</type><all>false</all>${paths}</propSet>` +
        `<objectSet>${ref('obj', view)}<skip>true</skip><selectSet xsi:type="TraversalSpec"><name>traverseView</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>` +
        `</specSet><options><maxObjects>${vms}</maxObjects></options>`,
    );
  } finally {
    await sim.stop();
  }

  const parseOnce = (): number => {
    const response = parseSoapResponse(body, { method: 'RetrievePropertiesEx' });
    const states = retrieveResult(returnValues(response)).objects.map((c) => vmStateSummary(c.obj, c.props));
    return states.length;
  };
  // Five parses with a collection before each (when --expose-gc), so one parse does not pay for the last one's garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < 5; i++) {
    gc?.();
    const t = performance.now();
    count = parseOnce();
    times.push(performance.now() - t);
  }
  if (count !== vms) throw new Error(`client-bench: the response held ${count} VMs, expected ${vms} (does the simulator cap maxObjects?)`);

  const result = {
    wsdlLoadMs: wsdlLoadMs,
    importMs,
    parse10kMs: Math.min(...times),
    parseMedianMs: median(times),
    parseColdMs: times[0] as number,
    parseVms: count,
    responseMb: Buffer.byteLength(body) / (1024 * 1024),
  };
  const text = JSON.stringify(result);
  if (outFile) writeFileSync(outFile, text);
  else process.stdout.write(text + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
