import { arr, bool, isObj, moref, str, type Decoded } from './decode.ts';
import { faultFromDecoded } from './fault-parse.ts';
import type { VimFault } from './faults.ts';
import { objectUpdate } from './normalize.ts';
import type { MoRef, ObjectUpdate } from './types.ts';

/** A RetrievePropertiesEx object (PropertyCollector results are normalised in this file). */
export interface ObjectContent {
  obj: MoRef;
  props: Map<string, Decoded>;
  missing: { path: string; fault: VimFault }[];
}
export interface RetrieveResult {
  token?: string;
  objects: ObjectContent[];
}
export interface UpdateSet {
  version: string;
  truncated: boolean;
  updates: ObjectUpdate[];
}

function objectContent(v: Decoded): ObjectContent | undefined {
  if (!isObj(v)) return undefined;
  const obj = moref(v.obj);
  if (!obj) return undefined;
  const props = new Map<string, Decoded>();
  for (const p of arr(v.propSet)) {
    if (!isObj(p)) continue;
    const name = str(p.name);
    if (name !== undefined) props.set(name, p.val);
  }
  const missing = arr(v.missingSet).map((m) => ({ path: str(isObj(m) ? m.path : undefined) ?? '', fault: faultFromDecoded(isObj(m) ? m.fault : undefined) }));
  return { obj, props, missing };
}

/** RetrieveResult (Ex) or the legacy RetrieveProperties list of ObjectContent. */
export function retrieveResult(values: Decoded[]): RetrieveResult {
  const out: RetrieveResult = { objects: [] };
  for (const v of values) {
    if (!isObj(v)) continue;
    if ('objects' in v || 'token' in v) {
      const token = str(v.token);
      if (token) out.token = token;
      for (const o of arr(v.objects)) {
        const c = objectContent(o);
        if (c) out.objects.push(c);
      }
    } else {
      const c = objectContent(v);
      if (c) out.objects.push(c);
    }
  }
  return out;
}

/** UpdateSet of WaitForUpdatesEx (or legacy WaitForUpdates); undefined value → null (nothing changed). */
export function updateSet(v: Decoded): UpdateSet | null {
  if (!isObj(v)) return null;
  const updates: ObjectUpdate[] = [];
  for (const fs of arr(v.filterSet)) {
    if (!isObj(fs)) continue;
    for (const ou of arr(fs.objectSet)) {
      const u = objectUpdate(ou, faultFromDecoded);
      if (u) updates.push(u);
    }
  }
  return { version: str(v.version) ?? '', truncated: bool(v.truncated) ?? false, updates };
}
