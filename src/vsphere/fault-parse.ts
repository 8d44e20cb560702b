import { arr, cryptoKeyIds, decodeValue, isObj, moref, str, type DecodedObject } from './decode.ts';
import { faultFromType, VimFault } from './faults.ts';
import { child, type XNode } from './xml.ts';

/** Normalises the fields that code reads from typed faults (MoRefs, arrays). */
function fieldsOf(type: string, raw: DecodedObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (k !== '_type') fields[k] = v;
  if ('object' in fields) fields.object = moref(fields.object) ?? fields.object;
  if ('obj' in fields) fields.obj = moref(fields.obj) ?? fields.obj;
  if ('vm' in fields) fields.vm = moref(fields.vm) ?? fields.vm;
  if ('requiredKey' in fields) fields.requiredKey = cryptoKeyIds(fields.requiredKey);
  if ('faultMessage' in fields) fields.faultMessage = arr(fields.faultMessage);
  if (type === 'NoPermission' || type === 'NotAuthenticated') fields.privilegeId = str(fields.privilegeId);
  return fields;
}

/** A fault value element (detail child, MethodFault inside LocalizedMethodFault) to its typed error. */
export function faultFromNode(node: XNode, message?: string): VimFault {
  const type = node.xsiType ?? node.name.replace(/Fault$/, '');
  const decoded = decodeValue(node);
  const raw: DecodedObject = isObj(decoded) ? decoded : {};
  return faultFromType(type, message || type, fieldsOf(type, raw));
}

/** LocalizedMethodFault {fault, localizedMessage} (TaskInfo.error, missingSet.fault). */
export function localizedFault(node: XNode | undefined): VimFault {
  if (!node) return faultFromType('MethodFault', 'fault without details');
  const inner = child(node, 'fault');
  const message = child(node, 'localizedMessage')?.text.trim();
  if (!inner) return faultFromType(node.xsiType ?? 'MethodFault', message || 'fault without details');
  return faultFromNode(inner, message);
}

/** soapenv:Fault → typed VimFault (the vim25 type from detail's xsi:type or element name). */
export function soapFault(faultNode: XNode): VimFault {
  const faultstring = child(faultNode, 'faultstring')?.text.trim() ?? '';
  const detail = child(faultNode, 'detail');
  const payload = detail?.children[0];
  if (!payload) {
    const code = child(faultNode, 'faultcode')?.text.trim() ?? 'ServerFaultCode';
    return faultFromType('MethodFault', faultstring || `SOAP fault ${code} without detail`, { faultcode: code });
  }
  return faultFromNode(payload, faultstring);
}

/** A fault already decoded generically: a LocalizedMethodFault {fault, localizedMessage} or a bare MethodFault. */
export function faultFromDecoded(v: unknown): VimFault {
  if (!isObj(v)) return faultFromType('MethodFault', str(v) || 'fault without details');
  const inner = isObj(v.fault) ? v.fault : undefined;
  if (inner) {
    const type = inner._type ?? 'MethodFault';
    const message = str(v.localizedMessage)?.trim();
    return faultFromType(type, message || type, fieldsOf(type, inner));
  }
  const type = v._type ?? 'MethodFault';
  return faultFromType(type, type, fieldsOf(type, v));
}
