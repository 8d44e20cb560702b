import { describe, expect, it } from 'vitest';
import { faults } from '../../src/simulator/fault.ts';
import { parseSoapRequest } from '../../src/simulator/request.ts';
import { arr, esc, faultEnvelope, obj, ref, refArr, ser, str, walk, refsOf, enm } from '../../src/simulator/xml.ts';

describe('simulator XML building', () => {
  it('escapes text and attribute characters', () => {
    expect(esc(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    expect(ser('name', str('x & <y>'), true)).toBe('<name xsi:type="xsd:string">x &amp; &lt;y&gt;</name>');
  });

  it('prints MoRefs, polymorphic fields and ArrayOf values as vCenter does', () => {
    expect(ser('val', ref('HostSystem', 'host-1'), true)).toBe('<val type="HostSystem" xsi:type="ManagedObjectReference">host-1</val>');
    expect(ser('val', refArr([{ type: 'VirtualMachine', value: 'vm-1' }]), true)).toBe(
      '<val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="VirtualMachine" xsi:type="ManagedObjectReference">vm-1</ManagedObjectReference></val>',
    );
    const disk = obj('VirtualDisk', [['key', { k: 'p', t: 'xsd:int', v: '2000' }], ['backing', obj('VirtualDiskFlatVer2BackingInfo', [['fileName', str('[ds] a.vmdk')]], true)], ['unset', undefined]], true);
    expect(ser('val', arr('VirtualDevice', [disk]), true)).toBe(
      '<val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualDisk"><key>2000</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds] a.vmdk</fileName></backing></VirtualDevice></val>',
    );
    // An array nested in an object is repeated elements named after the field.
    expect(ser('x', obj('T', [['device', arr('int', [{ k: 'p', t: 'xsd:int', v: '1' }, { k: 'p', t: 'xsd:int', v: '2' }])]]))).toBe('<x><device>1</device><device>2</device></x>');
    expect(ser('val', enm('VirtualMachinePowerState', 'poweredOn'), true)).toBe('<val xsi:type="VirtualMachinePowerState">poweredOn</val>');
  });

  it('walks nested paths and finds MoRefs for traversal', () => {
    const v = obj('A', [['b', obj('B', [['c', str('deep')], ['r', ref('Task', 'task-1')]])]]);
    expect(walk(v, ['b', 'c'])).toEqual(str('deep'));
    expect(walk(v, ['b', 'missing'])).toBeUndefined();
    expect(refsOf(walk(v, ['b', 'r']))).toEqual([{ type: 'Task', value: 'task-1' }]);
  });

  it('builds fault envelopes with the <Type>Fault detail element (real-vcenter/25 shape)', () => {
    const f = faults.noPermission({ type: 'Folder', value: 'group-v3' }, 'Cryptographer.RegisterVM');
    const xml = faultEnvelope(f.type, f.message, f.fields);
    expect(xml).toContain('<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Permission to perform this operation was denied.</faultstring>');
    expect(xml).toContain('<detail><NoPermissionFault xmlns="urn:vim25" xsi:type="NoPermission"><object type="Folder">group-v3</object><privilegeId>Cryptographer.RegisterVM</privilegeId></NoPermissionFault></detail>');
  });
});

describe('simulator request parsing', () => {
  it('reads prefixed and unprefixed envelopes, MoRef types and xsi:type of either prefix', () => {
    const a = parseSoapRequest(
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><objectSet><selectSet xsi:type="TraversalSpec"><type>ContainerView</type></selectSet></objectSet></specSet></RetrievePropertiesEx></soapenv:Body></soapenv:Envelope>',
    );
    expect(a.method).toBe('RetrievePropertiesEx');
    expect(a.thisRef).toEqual({ type: 'PropertyCollector', value: 'propertyCollector' });
    const sel = ((a.args.specSet as Record<string, unknown>).objectSet as Record<string, unknown>).selectSet as Record<string, unknown>;
    expect(sel['@xsitype']).toBe('TraversalSpec');
    const b = parseSoapRequest(
      '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><X xmlns="urn:vim25" xmlns:_XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"><_this type="T">v</_this><device _XMLSchema-instance:type="VirtualDisk"><key>1</key></device></X></Body></Envelope>',
    );
    expect((b.args.device as Record<string, unknown>)['@xsitype']).toBe('VirtualDisk');
  });

  it('turns malformed input into InvalidRequest/InvalidType faults that name the problem', () => {
    const fault = (xml: string) => {
      try {
        parseSoapRequest(xml);
        return 'no fault';
      } catch (e) {
        return `${(e as { type: string }).type}: ${(e as Error).message}`;
      }
    };
    expect(fault('<a><b></a>')).toMatch(/^InvalidRequest: Malformed XML/);
    expect(fault('<NotAnEnvelope/>')).toMatch(/^InvalidRequest: Expected a SOAP Envelope/);
    expect(fault('<Envelope><Body><A/><B/></Body></Envelope>')).toMatch(/exactly one method element/);
    expect(fault('<Envelope><Body><A><_this>x</_this></A></Body></Envelope>')).toMatch(/^InvalidType: _this must be a ManagedObjectReference/);
  });
});
