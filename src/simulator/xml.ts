/**
 * Response XML for the simulator, built by string concatenation (10k VMs must be
 * fast). Values are held in a tiny typed model (XVal) so the PropertyCollector
 * can walk nested paths, compare values and print them with vim25 `xsi:type`s.
 * Envelope and fault layout follow the recorded real vCenter bodies
 * (/work/shared/fixtures/real-vcenter/01, 03, 25).
 */
import type { MoRef } from '../vsphere/types.ts';

/** A primitive or enum value; t is its xsi:type (xsd:string, xsd:int, VirtualMachinePowerState, ...). */
export interface XPrim {
  k: 'p';
  t: string;
  v: string;
  /** Print xsi:type even when nested (anyType fields such as OptionValue.value). */
  poly?: boolean;
}
export interface XRef {
  k: 'm';
  ref: MoRef;
  poly?: boolean;
}
/** A data object: fields in vim25 element order; undefined fields are skipped. */
export interface XObj {
  k: 'o';
  t: string;
  f: [string, XVal | undefined][];
  /** Print xsi:type when nested (polymorphic fields: backing, device, bootOrder, ...). */
  poly?: boolean;
}
/** An array value: ArrayOfX at top level, repeated elements inside an object. */
export interface XArr {
  k: 'a';
  /** Element name of items at top level, e.g. VirtualDevice, AlarmState, ManagedObjectReference. */
  item: string;
  items: XVal[];
  poly?: boolean;
}
export type XVal = XPrim | XRef | XObj | XArr;

export const str = (v: string): XPrim => ({ k: 'p', t: 'xsd:string', v });
export const int = (v: number): XPrim => ({ k: 'p', t: 'xsd:int', v: String(Math.trunc(v)) });
export const long = (v: number): XPrim => ({ k: 'p', t: 'xsd:long', v: String(Math.trunc(v)) });
export const bool = (v: boolean): XPrim => ({ k: 'p', t: 'xsd:boolean', v: v ? 'true' : 'false' });
export const date = (d: Date | number): XPrim => ({ k: 'p', t: 'xsd:dateTime', v: new Date(d).toISOString() });
export const enm = (t: string, v: string): XPrim => ({ k: 'p', t, v });
export const ref = (type: string, value: string): XRef => ({ k: 'm', ref: { type, value } });
export const obj = (t: string, f: [string, XVal | undefined][], poly = false): XObj => ({ k: 'o', t, f, poly });
export const arr = (item: string, items: XVal[]): XArr => ({ k: 'a', item, items });
export const refArr = (refs: readonly MoRef[]): XArr => arr('ManagedObjectReference', refs.map((r) => ({ k: 'm', ref: r })));
export const strArr = (items: readonly string[]): XArr => arr('string', items.map(str));

const XML_ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export function esc(s: string): string {
  return /[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => XML_ESC[c] ?? c) : s;
}

/** The vim25 array type name of an array value, e.g. ArrayOfVirtualDevice. */
function arrayType(a: XArr): string {
  if (a.item === 'ManagedObjectReference') return 'ArrayOfManagedObjectReference';
  return 'ArrayOf' + a.item.charAt(0).toUpperCase() + a.item.slice(1);
}

export function moref(tag: string, r: MoRef, typed = false): string {
  return `<${tag} type="${esc(r.type)}"${typed ? ' xsi:type="ManagedObjectReference"' : ''}>${esc(r.value)}</${tag}>`;
}

/**
 * Prints `val` as element `tag`. `typed`: print xsi:type (top-level anyType values
 * such as DynamicProperty.val, PropertyChange.val, TaskInfo.result).
 */
export function ser(tag: string, val: XVal, typed = false): string {
  switch (val.k) {
    case 'p':
      return `<${tag}${typed || val.poly ? ` xsi:type="${val.t}"` : ''}>${esc(val.v)}</${tag}>`;
    case 'm':
      return moref(tag, val.ref, typed || val.poly);
    case 'o': {
      let s = `<${tag}${typed || val.poly ? ` xsi:type="${val.t}"` : ''}>`;
      for (const [name, v] of val.f) if (v !== undefined) s += serField(name, v);
      return s + `</${tag}>`;
    }
    case 'a': {
      if (!typed && !val.poly) {
        // An array nested as a field: repeated elements named after the field.
        let s = '';
        for (const item of val.items) s += ser(tag, item, false);
        return s;
      }
      let s = `<${tag} xsi:type="${arrayType(val)}">`;
      for (const item of val.items) s += ser(val.item, item, item.k !== 'p');
      return s + `</${tag}>`;
    }
  }
}

function serField(name: string, v: XVal): string {
  if (v.k === 'a' && !v.poly) {
    let s = '';
    for (const item of v.items) s += ser(name, item, false);
    return s;
  }
  return ser(name, v, false);
}

/** Walks a dotted path (`hardware.device`) into a data object; undefined when unset. */
export function walk(val: XVal | undefined, parts: readonly string[], from = 0): XVal | undefined {
  let cur = val;
  for (let i = from; i < parts.length && cur; i++) {
    if (cur.k !== 'o') return undefined;
    const f = cur.f.find((x) => x[0] === parts[i]);
    cur = f?.[1];
  }
  return cur;
}

/** MoRefs held by a value (a MoRef or an array of them), for TraversalSpecs. */
export function refsOf(val: XVal | undefined): MoRef[] {
  if (!val) return [];
  if (val.k === 'm') return [val.ref];
  if (val.k === 'a') return val.items.flatMap((i) => (i.k === 'm' ? [i.ref] : []));
  return [];
}

const ENVELOPE_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"\n' +
  ' xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"\n' +
  ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n' +
  ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n<soapenv:Body>\n';
const ENVELOPE_TAIL = '\n</soapenv:Body>\n</soapenv:Envelope>';

/** `<MethodResponse xmlns="urn:vim25">body</MethodResponse>` in the vpxd envelope. */
export function responseEnvelope(method: string, body: string): string {
  return `${ENVELOPE_HEAD}<${method}Response xmlns="urn:vim25">${body}</${method}Response>${ENVELOPE_TAIL}`;
}

/** A SOAP fault body as vCenter writes it (detail element `<Type>Fault` with xsi:type). */
export function faultEnvelope(type: string, message: string, fields: [string, XVal | undefined][]): string {
  let detail = '';
  for (const [name, v] of fields) if (v !== undefined) detail += serField(name, v);
  return (
    ENVELOPE_HEAD +
    `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${esc(message)}</faultstring>` +
    `<detail><${type}Fault xmlns="urn:vim25" xsi:type="${type}">${detail}</${type}Fault></detail></soapenv:Fault>` +
    ENVELOPE_TAIL
  );
}
