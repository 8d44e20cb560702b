/** ViewManager, ContainerView and PropertyCollector methods. */
import { randomUUID } from 'node:crypto';
import { Collector, Filter } from '../collector.ts';
import { faults } from '../fault.ts';
import { asArray, boolOf, childText, intOf, moRefOf, requireText, type Node } from '../request.ts';
import { parseFilterSpec, pathsFor, selectObjects, type FilterSpecIn, type RetrieveSelection as Selection } from '../selection.ts';
import { esc, moref, ser } from '../xml.ts';
import type { ObjectRegistry } from '../objects.ts';
import { sessionOf, type MethodCall, type MethodDef } from './types.ts';


function selectAll(specs: FilterSpecIn[], objects: ObjectRegistry): Selection {
  const items: Selection['items'] = [];
  specs.forEach((spec, i) => {
    for (const id of selectObjects(spec, objects).ids) {
      const type = objects.typeOf(id) as string;
      // Only objects some PropertySpec asks about are returned.
      if (spec.propSet.some((p) => objects.isA(type, p.type))) items.push({ spec: i, id });
    }
  });
  return { specs, items };
}

/** One ObjectContent (without the <objects> wrapper); objects are printed only when their page is asked for. */
function render(sel: Selection, item: Selection['items'][number], objects: ObjectRegistry): string {
  const type = objects.typeOf(item.id);
  if (!type) return '';
  let s = `<obj type="${esc(type)}">${esc(item.id)}</obj>`;
  for (const path of pathsFor(sel.specs[item.spec] as FilterSpecIn, type, objects)) {
    const val = objects.get(item.id, path);
    if (val !== undefined) s += `<propSet><name>${esc(path)}</name>${ser('val', val, true)}</propSet>`;
  }
  return s;
}

function renderPage(sel: Selection, from: number, to: number, objects: ObjectRegistry): string {
  const parts: string[] = [];
  for (let i = from; i < to && i < sel.items.length; i++) {
    const o = render(sel, sel.items[i] as Selection['items'][number], objects);
    if (o) parts.push('<objects>', o, '</objects>');
  }
  return parts.join('');
}

function parseSpecs(c: MethodCall): FilterSpecIn[] {
  const specs = asArray(c.args.specSet).map((s, i) => parseFilterSpec(s as Node, `specSet[${i}]`));
  if (specs.length === 0) throw faults.invalidArgument('specSet is required', 'specSet');
  for (const spec of specs) for (const ps of spec.propSet) if (!ps.all) for (const p of ps.pathSet) validatePath(c.objects, ps.type, p);
  return specs;
}

function collectorOf(c: MethodCall): Collector {
  const col = sessionOf(c).collector(c.thisRef.value, c.objects);
  if (!col) throw faults.notFound(c.thisRef);
  return col;
}

/** A RetrieveResult with the first page; the rest waits behind a one-use token. */
function firstPage(c: MethodCall, sel: Selection, maxObjects: number | undefined): string {
  if (sel.items.length === 0) return '';
  const n = maxObjects && maxObjects > 0 ? maxObjects : sel.items.length;
  let token = '';
  if (sel.items.length > n) {
    const t = randomUUID();
    sessionOf(c).tokens.set(t, { collector: c.thisRef.value, selection: sel, offset: n, pageSize: n });
    token = `<token>${t}</token>`;
  }
  return `<returnval>${token}${renderPage(sel, 0, n, c.objects)}</returnval>`;
}

export const propertyMethods: Record<string, MethodDef> = {
  CreateContainerView: {
    on: ['ViewManager'],
    handler: (c) => {
      const container = moRefOf(c.args.container, 'container');
      if (!c.objects.typeOf(container.value)) throw faults.notFound(container);
      const types = asArray(c.args.type).map((t) => String(typeof t === 'object' ? (t as Node)['#text'] ?? '' : t));
      const recursive = boolOf(c.args, 'recursive') ?? false;
      const s = sessionOf(c);
      const id = s.newId();
      s.views.set(id, { id, container: container.value, types, recursive });
      return moref('returnval', { type: 'ContainerView', value: id });
    },
  },
  DestroyView: {
    on: ['ContainerView'],
    handler: (c) => {
      sessionOf(c).views.delete(c.thisRef.value);
      return '';
    },
  },
  CreatePropertyCollector: {
    on: ['PropertyCollector'],
    handler: (c) => {
      const s = sessionOf(c);
      const id = s.newId();
      s.collectors.set(id, new Collector(id, c.objects));
      return moref('returnval', { type: 'PropertyCollector', value: id });
    },
  },
  DestroyPropertyCollector: {
    on: ['PropertyCollector'],
    handler: (c) => {
      const s = sessionOf(c);
      if (c.thisRef.value === 'propertyCollector') throw faults.invalidArgument('The default PropertyCollector cannot be destroyed', '_this');
      s.collectors.get(c.thisRef.value)?.destroy();
      s.collectors.delete(c.thisRef.value);
      return '';
    },
  },
  CreateFilter: {
    on: ['PropertyCollector'],
    handler: (c) => {
      const spec = parseFilterSpec(c.args.spec as Node | undefined, 'spec');
      const partial = boolOf(c.args, 'partialUpdates') ?? false;
      // Validate objects and paths now, as vCenter does.
      selectObjects(spec, c.objects);
      for (const ps of spec.propSet) if (!ps.all) for (const p of ps.pathSet) validatePath(c.objects, ps.type, p);
      const col = collectorOf(c);
      const id = sessionOf(c).newId();
      col.addFilter(new Filter(id, spec, partial));
      return moref('returnval', { type: 'PropertyFilter', value: id });
    },
  },
  DestroyPropertyFilter: {
    on: ['PropertyFilter'],
    handler: (c) => {
      for (const col of sessionOf(c).collectors.values()) col.filters.delete(c.thisRef.value);
      return '';
    },
  },
  RetrievePropertiesEx: {
    on: ['PropertyCollector'],
    handler: (c) => {
      collectorOf(c);
      const specs = parseSpecs(c);
      const options = c.args.options as Node | undefined;
      const maxObjects = intOf(typeof options === 'object' ? options : undefined, 'maxObjects', 'options.maxObjects');
      if (maxObjects !== undefined && maxObjects < 0) throw faults.invalidArgument('options.maxObjects must not be negative', 'options.maxObjects');
      return firstPage(c, selectAll(specs, c.objects), maxObjects);
    },
  },
  RetrieveProperties: {
    on: ['PropertyCollector'],
    handler: (c) => {
      collectorOf(c);
      const sel = selectAll(parseSpecs(c), c.objects);
      return sel.items.map((item) => `<returnval>${render(sel, item, c.objects)}</returnval>`).join('');
    },
  },
  ContinueRetrievePropertiesEx: {
    on: ['PropertyCollector'],
    handler: (c) => {
      const token = requireText(c.args, 'token', 'ContinueRetrievePropertiesEx');
      const s = sessionOf(c);
      const t = s.tokens.get(token);
      if (!t || t.collector !== c.thisRef.value) throw faults.invalidArgument(`Unknown or used token "${token}"`, 'token');
      s.tokens.delete(token);
      const from = t.offset;
      const to = from + t.pageSize;
      let tokenXml = '';
      if (to < t.selection.items.length) {
        const nt = randomUUID();
        s.tokens.set(nt, { ...t, offset: to });
        tokenXml = `<token>${nt}</token>`;
      }
      return `<returnval>${tokenXml}${renderPage(t.selection, from, to, c.objects)}</returnval>`;
    },
  },
  CancelRetrievePropertiesEx: {
    on: ['PropertyCollector'],
    handler: (c) => {
      sessionOf(c).tokens.delete(requireText(c.args, 'token', 'CancelRetrievePropertiesEx'));
      return '';
    },
  },
  WaitForUpdatesEx: {
    on: ['PropertyCollector'],
    handler: async (c) => {
      const col = collectorOf(c);
      const version = childText(c.args, 'version') ?? '';
      const options = typeof c.args.options === 'object' ? (c.args.options as Node) : undefined;
      const maxWait = intOf(options, 'maxWaitSeconds', 'options.maxWaitSeconds');
      const maxObjectUpdates = intOf(options, 'maxObjectUpdates', 'options.maxObjectUpdates');
      if (maxWait !== undefined && maxWait < 0) throw faults.invalidArgument('options.maxWaitSeconds must not be negative', 'options.maxWaitSeconds');
      const onAbort = (): void => col.cancelWait();
      c.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return (await col.waitForUpdates(version, maxWait, maxObjectUpdates)) ?? '';
      } finally {
        c.signal.removeEventListener('abort', onAbort);
      }
    },
  },
  WaitForUpdates: {
    on: ['PropertyCollector'],
    handler: async (c) => (await collectorOf(c).waitForUpdates(childText(c.args, 'version') ?? '', undefined, undefined)) ?? '',
  },
  CheckForUpdates: {
    on: ['PropertyCollector'],
    handler: async (c) => (await collectorOf(c).waitForUpdates(childText(c.args, 'version') ?? '', 0, undefined)) ?? '',
  },
  CancelWaitForUpdates: {
    on: ['PropertyCollector'],
    handler: (c) => {
      collectorOf(c).cancelWait();
      return '';
    },
  },
};

/** A property path must start with a property of the type (InvalidProperty otherwise). */
function validatePath(objects: ObjectRegistry, type: string, path: string): void {
  const top = path.split('.')[0] as string;
  const known: Record<string, string[]> = {
    VirtualMachine: ['name', 'parent', 'config', 'runtime', 'datastore', 'triggeredAlarmState', 'declaredAlarmState', 'overallStatus', 'summary', 'resourcePool', 'disabledMethod'],
    HostSystem: ['name', 'parent', 'runtime', 'configManager', 'vm', 'datastore', 'triggeredAlarmState', 'overallStatus', 'summary'],
  };
  const list = known[type] ?? objects.allProps(type);
  if (list.length > 0 && !list.includes(top)) throw faults.invalidProperty(path);
}
