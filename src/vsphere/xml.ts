import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * A namespace-resolved XML element. vim25 responses are read through this one
 * shape whatever the server's prefixes: real vCenter writes `xsi:type`, vcsim
 * writes `_XMLSchema-instance:type` (declared on each value), PBM writes
 * `pbm:Type`. Element names are local names; `xsiType` is the resolved type's
 * local name, or `xsd:<name>` for XML Schema primitives.
 */
export interface XNode {
  name: string;
  xsiType?: string;
  /** xsi:nil="true". */
  nil?: boolean;
  /** Attributes other than namespace declarations and xsi:*, by local name. */
  attrs: Record<string, string>;
  children: XNode[];
  /** Concatenated text content (kept verbatim, not trimmed). */
  text: string;
}

const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';

/** Above this size only a cheap end-tag check replaces full validation (validation doubles parse time). */
const FULL_VALIDATION_LIMIT = 4 * 1024 * 1024;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: false,
});

export class XmlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlSyntaxError';
  }
}

type RawNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

function prefixOf(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? '' : qname.slice(0, i);
}

function convert(raw: RawNode, scope: ReadonlyMap<string, string>): XNode | undefined {
  const tag = Object.keys(raw).find((k) => k !== ':@');
  if (tag === undefined || tag === '#text' || tag.startsWith('?') || tag === '#comment') return undefined;
  const rawAttrs = raw[':@'] ?? {};
  let nsScope = scope;
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) {
      if (nsScope === scope) nsScope = new Map(scope);
      (nsScope as Map<string, string>).set(k === 'xmlns' ? '' : k.slice(6), v);
    }
  }
  const node: XNode = { name: localName(tag), attrs: {}, children: [], text: '' };
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
    const prefix = prefixOf(k);
    const local = localName(k);
    const ns = prefix ? nsScope.get(prefix) : undefined;
    if (prefix && (ns === XSI_NS || (ns === undefined && prefix === 'xsi'))) {
      if (local === 'type') node.xsiType = resolveTypeName(v, nsScope);
      else if (local === 'nil') node.nil = v === 'true' || v === '1';
      continue;
    }
    node.attrs[local] = v;
  }
  const kids = raw[tag];
  if (Array.isArray(kids)) {
    let text = '';
    for (const kid of kids as RawNode[]) {
      if ('#text' in kid) {
        text += String(kid['#text']);
        continue;
      }
      const child = convert(kid, nsScope);
      if (child) node.children.push(child);
    }
    node.text = text;
  }
  return node;
}

/** `xsd:int` (any prefix bound to XML Schema) → `xsd:int`; `pbm:Foo`/`vim25:Foo`/`Foo` → `Foo`. */
function resolveTypeName(qname: string, scope: ReadonlyMap<string, string>): string {
  const prefix = prefixOf(qname);
  const local = localName(qname);
  const ns = scope.get(prefix);
  if (ns === XSD_NS || (ns === undefined && (prefix === 'xsd' || prefix === 'xs'))) return `xsd:${local}`;
  return local;
}

/** Parses an XML document into its root XNode. Throws XmlSyntaxError on malformed or empty input. */
export function parseXml(text: string): XNode {
  const trimmed = text.trim();
  if (!trimmed) throw new XmlSyntaxError('empty XML document');
  if (trimmed.length <= FULL_VALIDATION_LIMIT) {
    const check = XMLValidator.validate(trimmed);
    if (check !== true) throw new XmlSyntaxError(`malformed XML at line ${check.err.line}: ${check.err.msg}`);
  }
  let doc: RawNode[];
  try {
    doc = parser.parse(trimmed) as RawNode[];
  } catch (err) {
    throw new XmlSyntaxError(`malformed XML: ${(err as Error).message}`);
  }
  let root: XNode | undefined;
  for (const raw of doc) {
    root = convert(raw, new Map());
    if (root) break;
  }
  if (!root) throw new XmlSyntaxError('no root element in XML document');
  if (trimmed.length > FULL_VALIDATION_LIMIT) {
    // A truncated body (connection cut mid-response) is the realistic failure here.
    const closing = new RegExp(`</(?:[A-Za-z_][\\w.-]*:)?${root.name}\\s*>$`);
    if (!closing.test(trimmed)) throw new XmlSyntaxError(`malformed XML: document does not end with </${root.name}> (truncated?)`);
  }
  return root;
}

export function child(node: XNode | undefined, name: string): XNode | undefined {
  return node?.children.find((c) => c.name === name);
}

export function childrenNamed(node: XNode | undefined, name: string): XNode[] {
  return node ? node.children.filter((c) => c.name === name) : [];
}

export function childText(node: XNode | undefined, name: string): string | undefined {
  return child(node, name)?.text;
}
