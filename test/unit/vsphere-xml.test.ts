import { describe, expect, it } from 'vitest';
import { parseXml, XmlSyntaxError } from '../../src/vsphere/xml.ts';
import { arr, decodeValue } from '../../src/vsphere/decode.ts';
import { VsphereClient } from '../../src/vsphere/client.ts';
import { bootOrder, virtualDisks } from '../../src/vsphere/vm-snapshot.ts';
import { alarmEventTypeIds } from '../../src/vsphere/normalize.ts';
import { removeDiskSpec } from '../../src/vsphere/specs.ts';

describe('parseXml', () => {
  it('resolves xsi:type by namespace URI whatever the prefix, and keeps plain type attributes apart', () => {
    const vcsim = parseXml(
      '<r xmlns:_XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" xmlns:s="http://www.w3.org/2001/XMLSchema"><v _XMLSchema-instance:type="s:int">5</v><m type="VirtualMachine" _XMLSchema-instance:type="ManagedObjectReference">vm-1</m></r>',
    );
    expect(vcsim.children[0]).toMatchObject({ name: 'v', xsiType: 'xsd:int', text: '5' });
    expect(vcsim.children[1]).toMatchObject({ xsiType: 'ManagedObjectReference', attrs: { type: 'VirtualMachine' } });
    expect(decodeValue(vcsim.children[0]!)).toBe(5);
    const pbm = parseXml('<a xmlns="urn:pbm" xmlns:pbm="urn:pbm" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><b xsi:type="pbm:PbmProfile"/></a>');
    expect(pbm.children[0]!.xsiType).toBe('PbmProfile');
  });

  it('decodes entities, character references and CDATA; keeps text verbatim', () => {
    const n = parseXml("<a><b>x &amp; y &lt;z&gt; &#65;&#x42; &quot;q&apos;</b><c><![CDATA[<raw> & ]]></c><d>line\nnext </d></a>");
    expect(n.children.map((c) => c.text)).toEqual(['x & y <z> AB "q\'', '<raw> & ', 'line\nnext ']);
  });

  it.each([
    ['<a><b></a>', /does not match/],
    ['<a><b>', /not closed/],
    ['<a>text', /not closed/],
    ['', /empty XML document/],
    ['just text', /text before the root element/],
    ['<a/><b/>', /second root element/],
    ['<a x=1/>', /not quoted/],
    ['<a>&bogus;</a>', /unknown entity/],
    ['<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', /DOCTYPE/],
    ['<a><!-- never closed </a>', /unterminated comment/],
  ])('refuses %j', (xml, message) => {
    expect(() => parseXml(xml)).toThrow(XmlSyntaxError);
    expect(() => parseXml(xml)).toThrow(message);
  });
});

describe('generic decoding', () => {
  it('repeated elements become arrays, single ones stay single until a typed reader asks for an array', () => {
    const v = decodeValue(parseXml('<o><x>1</x><x>2</x><x>3</x><y>only</y></o>')) as Record<string, unknown>;
    expect(v.x).toEqual(['1', '2', '3']);
    expect(arr(v.y)).toEqual(['only']);
    expect(arr(undefined)).toEqual([]);
  });

  it('xsd primitives are converted; a long beyond 2^53 keeps its digits', () => {
    const xs = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"';
    const v = decodeValue(parseXml(`<o ${xs}><b xsi:type="xsd:boolean">true</b><l xsi:type="xsd:long">9007199254740993</l><d xsi:type="xsd:dateTime">2026-12-03T12:29:29.472349428Z</d></o>`)) as Record<string, unknown>;
    expect(v.b).toBe(true);
    expect(v.l).toBe('9007199254740993');
    expect(v.d).toEqual(new Date('2026-12-03T12:29:29.472Z'));
  });
});

describe('VM crypto details', () => {
  const xs = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  it('walks the untyped parent chain of a disk backing, nearest first', () => {
    const devices = decodeValue(
      parseXml(
        `<v ${xs} xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualNVMEController"><key>31000</key><busNumber>1</busNumber></VirtualDevice>` +
          `<VirtualDevice xsi:type="VirtualDisk"><key>2000</key><deviceInfo><label>Hard disk 1</label></deviceInfo><backing xsi:type="VirtualDiskSeSparseBackingInfo"><fileName>[ds] a-000002.vmdk</fileName><keyId><keyId>k3</keyId></keyId>` +
          `<parent><fileName>[ds] a-000001.vmdk</fileName><keyId><keyId>k2</keyId><providerId><id>p</id></providerId></keyId><parent><fileName>[ds] a.vmdk</fileName><keyId><keyId>k1</keyId></keyId></parent></parent></backing>` +
          `<controllerKey>31000</controllerKey><unitNumber>0</unitNumber></VirtualDevice></v>`,
      ),
    );
    const [disk] = virtualDisks(devices);
    expect(disk).toMatchObject({ key: 2000, label: 'Hard disk 1', backingType: 'VirtualDiskSeSparseBackingInfo', controller: { kind: 'nvme', busNumber: 1 }, keyId: { keyId: 'k3' } });
    expect(disk!.parentKeyIds).toEqual([{ keyId: 'k2', providerId: { id: 'p' } }, { keyId: 'k1' }]);
  });

  it('dispatches boot order entries on xsi:type and keeps unknown ones', () => {
    const opts = decodeValue(
      parseXml(
        `<v ${xs} xsi:type="VirtualMachineBootOptions"><bootOrder xsi:type="VirtualMachineBootOptionsBootableDiskDevice"><deviceKey>2000</deviceKey></bootOrder>` +
          `<bootOrder xsi:type="VirtualMachineBootOptionsBootableCdromDevice"/><bootOrder xsi:type="VirtualMachineBootOptionsBootableEthernetDevice"><deviceKey>4000</deviceKey></bootOrder>` +
          `<bootOrder xsi:type="VirtualMachineBootOptionsBootableFutureDevice"/></v>`,
      ),
    );
    expect(bootOrder(opts)).toEqual([{ kind: 'disk', deviceKey: 2000 }, { kind: 'cdrom' }, { kind: 'ethernet', deviceKey: 4000 }, { kind: 'unknown', type: 'VirtualMachineBootOptionsBootableFutureDevice' }]);
  });

  it('collects eventTypeIds from nested alarm expressions', () => {
    const expr = decodeValue(
      parseXml(
        `<e ${xs} xsi:type="OrAlarmExpression"><expression xsi:type="EventAlarmExpression"><eventType>EventEx</eventType><eventTypeId>com.vmware.vc.vm.VmStateFailedToLockEvent</eventTypeId></expression>` +
          `<expression xsi:type="AndAlarmExpression"><expression xsi:type="EventAlarmExpression"><eventType>VmPoweredOffEvent</eventType></expression></expression></e>`,
      ),
    );
    expect(alarmEventTypeIds(expr)).toEqual(['com.vmware.vc.vm.VmStateFailedToLockEvent', 'VmPoweredOffEvent']);
  });

  it('the disk removal spec never carries a fileOperation', () => {
    const spec = removeDiskSpec({ key: 2001, fileName: '[ds] a_1.vmdk' });
    expect(JSON.stringify(spec)).not.toMatch(/fileOperation|destroy/);
    expect(spec).toMatchObject({ deviceChange: [{ operation: 'remove', device: { key: 2001 } }] });
  });
});

describe('timeouts', () => {
  it('WaitForUpdatesEx maxWaitSeconds stays below the call timeout', () => {
    const c = new VsphereClient({ name: 'x', url: 'http://127.0.0.1:9/sdk', user: 'u', password: 'p', callTimeoutMs: 90_000 });
    expect(c.maxWaitSeconds(60)).toBe(60);
    expect(c.maxWaitSeconds(600)).toBe(72);
    const short = new VsphereClient({ name: 'x', url: 'http://127.0.0.1:9/sdk', user: 'u', password: 'p', callTimeoutMs: 10_000 });
    expect(short.maxWaitSeconds(60)).toBe(5);
  });

  it('a client refuses a non-http URL with a clear error', () => {
    expect(() => new VsphereClient({ name: 'x', url: 'ftp://vc/sdk', user: 'u', password: 'p' })).toThrow(/must be http\(s\)/);
  });
});
