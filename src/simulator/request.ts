/**
 * Reads a SOAP 1.1 request with fast-xml-parser into a plain tree: namespace
 * prefixes dropped from element names, MoRef `type` kept as '@type', any
 * `*:type` attribute (xsi:type, govmomi's _XMLSchema-instance:type) kept as
 * '@xsitype' without its prefix. Helpers turn nodes into typed arguments and
 * throw vim25 faults (InvalidRequest, InvalidType) naming the bad argument.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { MoRef } from '../vsphere/types.ts';
import { faults } from './fault.ts';

export type Node = { [key: string]: unknown };

export interface SoapCall {
  method: string;
  thisRef: MoRef;
  args: Node;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  textNodeName: '#text',
  processEntities: true,
  ignoreDeclaration: true,
});

function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v === null || typeof v !== 'object') return v;
  const out: Node = {};
  for (const [k, val] of Object.entries(v as Node)) {
    if (k.startsWith('@')) {
      const name = k.slice(1);
      if (name === 'type') out['@type'] = val;
      else if (name.endsWith(':type')) out['@xsitype'] = String(val).replace(/^[^:]*:/, '');
      continue;
    }
    if (k === '#text') {
      out['#text'] = val;
      continue;
    }
    const local = k.includes(':') ? k.slice(k.indexOf(':') + 1) : k;
    // Element names that would reach an object's prototype are ignored.
    if (local === '__proto__' || local === 'constructor' || local === 'prototype') continue;
    out[local] = normalise(val);
  }
  return out;
}

/** Parses the envelope; throws InvalidRequest for malformed XML or a body without one method element. */
export function parseSoapRequest(xml: string): SoapCall {
  if (xml.trim() === '') throw faults.invalidRequest('The request body is empty; expected a SOAP envelope');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw faults.invalidRequest(`Malformed XML at line ${valid.err.line}: ${valid.err.msg}`);
  let tree: Node;
  try {
    tree = normalise(parser.parse(xml)) as Node;
  } catch (err) {
    throw faults.invalidRequest(`Malformed XML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const env = tree.Envelope as Node | undefined;
  if (!env || typeof env !== 'object') throw faults.invalidRequest('Expected a SOAP Envelope element');
  const body = env.Body as Node | undefined;
  if (!body || typeof body !== 'object') throw faults.invalidRequest('Expected a SOAP Body element');
  const methods = Object.keys(body).filter((k) => !k.startsWith('@') && k !== '#text');
  if (methods.length !== 1) throw faults.invalidRequest(`Expected exactly one method element in the SOAP Body, found ${methods.length}`);
  const method = methods[0] as string;
  const raw = body[method];
  const args: Node = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Node) : {};
  if (args._this === undefined) throw faults.invalidRequest(`${method}: missing _this (the managed object the method is called on)`);
  return { method, thisRef: moRefOf(args._this, '_this'), args };
}

export function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

/** The text of a simple child element; undefined when absent. */
export function childText(node: Node | undefined, name: string): string | undefined {
  if (!node) return undefined;
  let v = node[name];
  if (Array.isArray(v)) v = v[0];
  return textOf(v);
}

export function textOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const t = (v as Node)['#text'];
    return t === undefined ? '' : String(t);
  }
  return undefined;
}

export function intOf(node: Node | undefined, name: string, where = name): number | undefined {
  const t = childText(node, name);
  if (t === undefined || t === '') return undefined;
  if (!/^-?\d+$/.test(t.trim())) throw faults.invalidType(`Unable to parse "${t}" as an int for ${where}`, where);
  return Number(t);
}

export function boolOf(node: Node | undefined, name: string, where = name): boolean | undefined {
  const t = childText(node, name);
  if (t === undefined || t === '') return undefined;
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw faults.invalidType(`Unable to parse "${t}" as a boolean for ${where}`, where);
}

export function moRefOf(v: unknown, where: string): MoRef {
  const node = Array.isArray(v) ? v[0] : v;
  if (!node || typeof node !== 'object') throw faults.invalidType(`${where} must be a ManagedObjectReference with a type attribute`, where);
  const type = (node as Node)['@type'];
  const value = (node as Node)['#text'];
  if (typeof type !== 'string' || type === '' || value === undefined || String(value) === '') {
    throw faults.invalidType(`${where} must be a ManagedObjectReference with a type attribute and a value`, where);
  }
  return { type, value: String(value) };
}

export function optMoRef(node: Node, name: string, where = name): MoRef | undefined {
  return node[name] === undefined ? undefined : moRefOf(node[name], where);
}

export function requireText(node: Node, name: string, method: string): string {
  const t = childText(node, name);
  if (t === undefined) throw faults.invalidRequest(`${method}: missing required argument ${name}`);
  return t;
}
