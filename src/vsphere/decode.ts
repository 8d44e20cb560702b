import type { CryptoKeyId, MoRef } from './types.ts';
import type { XNode } from './xml.ts';

/**
 * Generic decoding of vim25 values: no schema needed, so an unknown xsi:type
 * never fails a response. Objects keep their xsi:type under `_type`; a repeated
 * element becomes an array; `ArrayOfX` becomes an array (empty → []); a MoRef
 * becomes {type, value}; xsd primitives are converted. Typed normalisers
 * (normalize.ts) then read fields through the helpers below, which make arrays
 * always arrays and convert untyped leaf text.
 */
export type Decoded = string | number | boolean | Date | MoRef | Decoded[] | DecodedObject | undefined;
export interface DecodedObject {
  _type?: string;
  [field: string]: Decoded;
}

const NUMBER_TYPES = new Set(['xsd:int', 'xsd:short', 'xsd:byte', 'xsd:long', 'xsd:float', 'xsd:double', 'xsd:decimal', 'xsd:integer', 'xsd:unsignedInt', 'xsd:unsignedShort', 'xsd:unsignedLong']);

function primitive(type: string, text: string): Decoded {
  if (type === 'xsd:boolean') return text === 'true' || text === '1';
  if (NUMBER_TYPES.has(type)) {
    const n = Number(text);
    // A long beyond 2^53 keeps its exact digits as a string.
    return Number.isSafeInteger(n) || !Number.isInteger(n) ? n : text;
  }
  if (type === 'xsd:dateTime') {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? text : d;
  }
  return text;
}

export function isMoRefNode(node: XNode): boolean {
  return node.xsiType === 'ManagedObjectReference' || (node.attrs.type !== undefined && node.children.length === 0 && node.xsiType === undefined);
}

export function decodeValue(node: XNode): Decoded {
  if (node.nil) return undefined;
  const type = node.xsiType;
  if (isMoRefNode(node)) return { type: node.attrs.type ?? '', value: node.text.trim() };
  if (type?.startsWith('xsd:')) return primitive(type, node.text);
  if (type?.startsWith('ArrayOf')) return node.children.map(decodeValue);
  if (node.children.length > 0) {
    const obj: DecodedObject = {};
    if (type) obj._type = type;
    const repeated = new Set<string>();
    for (const c of node.children) {
      const v = decodeValue(c);
      if (!(c.name in obj)) obj[c.name] = v;
      else if (repeated.has(c.name)) (obj[c.name] as Decoded[]).push(v);
      else {
        obj[c.name] = [obj[c.name], v];
        repeated.add(c.name);
      }
    }
    return obj;
  }
  // An empty typed element is an object of that type (e.g. an empty VirtualMachineBootOptions);
  // enum values always have text.
  if (type && node.text.trim() === '') return { _type: type };
  return node.text;
}

// ---- field helpers: tolerant readers used by every typed normaliser ----

export function isObj(v: unknown): v is DecodedObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Always an array: undefined → [], a single value → [value]. */
export function arr(v: unknown): Decoded[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? (v as Decoded[]) : [v as Decoded];
}

export function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}

export function date(v: unknown): Date | undefined {
  if (v instanceof Date) return v;
  if (typeof v === 'string' && v) {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

export function isMoRef(v: unknown): v is MoRef {
  return isObj(v) && typeof v.type === 'string' && typeof v.value === 'string' && Object.keys(v).length === 2;
}

export function moref(v: unknown): MoRef | undefined {
  return isMoRef(v) ? { type: v.type, value: v.value } : undefined;
}

export function morefs(v: unknown): MoRef[] {
  return arr(v).map(moref).filter((m): m is MoRef => m !== undefined);
}

export function cryptoKeyId(v: unknown): CryptoKeyId | undefined {
  if (!isObj(v)) return undefined;
  const keyId = str(v.keyId);
  if (keyId === undefined) return undefined;
  const provider = isObj(v.providerId) ? str(v.providerId.id) : undefined;
  return provider === undefined ? { keyId } : { keyId, providerId: { id: provider } };
}

export function cryptoKeyIds(v: unknown): CryptoKeyId[] {
  return arr(v).map(cryptoKeyId).filter((k): k is CryptoKeyId => k !== undefined);
}
