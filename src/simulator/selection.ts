/**
 * PropertyFilterSpec as the PropertyCollector reads it: parsing from the request
 * tree and object selection (ObjectSpec + TraversalSpec/SelectionSpec walks,
 * including ContainerView.view and TaskManager.recentTask).
 */
import type { MoRef } from '../vsphere/types.ts';
import { faults } from './fault.ts';
import { asArray, boolOf, childText, moRefOf, type Node } from './request.ts';
import { refsOf, type XVal } from './xml.ts';

export interface TraversalIn {
  name?: string;
  type: string;
  path: string;
  skip: boolean;
  selectSet: SelectionIn[];
}
export type SelectionIn = TraversalIn | { ref: string };

export interface ObjectSpecIn {
  obj: MoRef;
  skip: boolean;
  selectSet: SelectionIn[];
}

export interface PropertySpecIn {
  type: string;
  all: boolean;
  pathSet: string[];
}

export interface FilterSpecIn {
  propSet: PropertySpecIn[];
  objectSet: ObjectSpecIn[];
  reportMissing: boolean;
}

/** What the collector needs to know about objects (the registry provides it). */
export interface ObjectAccess {
  typeOf(id: string): string | undefined;
  /** Property value at a dotted path; undefined when unset; throws InvalidProperty for unknown paths. */
  get(id: string, path: string): XVal | undefined;
  /** Top-level property names of a type (PropertySpec.all). */
  allProps(type: string): string[];
  /** Whether objects of `type` match a spec naming `base` (ManagedEntity, ...). */
  isA(type: string, base: string): boolean;
}

function parseSelection(node: Node, where: string): SelectionIn {
  const type = childText(node, 'type');
  const path = childText(node, 'path');
  const name = childText(node, 'name');
  if (type === undefined || path === undefined) {
    if (name === undefined) throw faults.invalidArgument(`${where}: a SelectionSpec needs a name, a TraversalSpec needs type and path`, where);
    return { ref: name };
  }
  return {
    name,
    type,
    path,
    skip: boolOf(node, 'skip', `${where}.skip`) ?? false,
    selectSet: asArray(node.selectSet).map((s, i) => parseSelection(s as Node, `${where}.selectSet[${i}]`)),
  };
}

export function parseFilterSpec(node: Node | undefined, where = 'spec'): FilterSpecIn {
  if (!node || typeof node !== 'object') throw faults.invalidArgument(`${where} is required`, where);
  const propSet = asArray(node.propSet).map((p, i) => {
    const pn = p as Node;
    const type = childText(pn, 'type');
    if (!type) throw faults.invalidArgument(`${where}.propSet[${i}].type is required`, `${where}.propSet.type`);
    return {
      type,
      all: boolOf(pn, 'all', `${where}.propSet[${i}].all`) ?? false,
      pathSet: asArray(pn.pathSet).map((x) => (typeof x === 'string' ? x : String((x as Node)['#text'] ?? ''))),
    };
  });
  const objectSet = asArray(node.objectSet).map((o, i) => {
    const on = o as Node;
    const obj = moRefOf(on.obj, `${where}.objectSet[${i}].obj`);
    return {
      obj,
      skip: boolOf(on, 'skip', `${where}.objectSet[${i}].skip`) ?? false,
      selectSet: asArray(on.selectSet).map((s, j) => parseSelection(s as Node, `${where}.objectSet[${i}].selectSet[${j}]`)),
    };
  });
  if (objectSet.length === 0) throw faults.invalidArgument(`${where}.objectSet is empty`, `${where}.objectSet`);
  return { propSet, objectSet, reportMissing: boolOf(node, 'reportMissingObjectsInResults', `${where}.reportMissingObjectsInResults`) ?? false };
}

/** The objects a RetrievePropertiesEx returns, in order, each with the spec that selected it. */
export interface RetrieveSelection {
  specs: FilterSpecIn[];
  items: { spec: number; id: string }[];
}

export interface Selected {
  ids: string[];
  missing: MoRef[];
  /** Objects whose properties were followed (a change to them may change membership). */
  through: Set<string>;
}

/** The objects a filter spec selects, in a stable order, without duplicates. */
export function selectObjects(spec: FilterSpecIn, access: ObjectAccess): Selected {
  const named = new Map<string, TraversalIn>();
  const collect = (sels: SelectionIn[]): void => {
    for (const s of sels) {
      if ('ref' in s) continue;
      if (s.name && !named.has(s.name)) named.set(s.name, s);
      collect(s.selectSet);
    }
  };
  for (const o of spec.objectSet) collect(o.selectSet);

  const out: Selected = { ids: [], missing: [], through: new Set() };
  const seen = new Set<string>();
  const include = (id: string): void => {
    if (!seen.has(id)) {
      seen.add(id);
      out.ids.push(id);
    }
  };
  const visited = new Set<string>();
  const traverse = (id: string, sels: SelectionIn[], depth: number): void => {
    if (depth > 32) return;
    const type = access.typeOf(id);
    if (!type) return;
    for (const s of sels) {
      const ts = 'ref' in s ? named.get(s.ref) : s;
      if (!ts || !access.isA(type, ts.type)) continue;
      const key = `${ts.name ?? ts.type + '.' + ts.path}|${id}`;
      if (visited.has(key)) continue;
      visited.add(key);
      out.through.add(id);
      let val: XVal | undefined;
      try {
        val = access.get(id, ts.path);
      } catch {
        continue;
      }
      for (const child of refsOf(val)) {
        if (!access.typeOf(child.value)) continue;
        if (!ts.skip) include(child.value);
        traverse(child.value, ts.selectSet, depth + 1);
      }
    }
  };
  for (const o of spec.objectSet) {
    const type = access.typeOf(o.obj.value);
    if (!type || (o.obj.type !== type && !access.isA(type, o.obj.type))) {
      if (!spec.reportMissing) throw faults.notFound(o.obj);
      out.missing.push(o.obj);
      continue;
    }
    if (!o.skip) include(o.obj.value);
    traverse(o.obj.value, o.selectSet, 0);
  }
  return out;
}

/** The property paths wanted for an object of `type`. */
export function pathsFor(spec: FilterSpecIn, type: string, access: ObjectAccess): string[] {
  const paths: string[] = [];
  for (const p of spec.propSet) {
    if (!access.isA(type, p.type)) continue;
    for (const path of p.all ? access.allProps(type) : p.pathSet) if (!paths.includes(path)) paths.push(path);
  }
  return paths;
}
