/**
 * A bare vim25 caller for tests and probes: posts hand-written SOAP bodies with
 * fetch, keeps the session cookie, and parses answers with fast-xml-parser so a
 * test can check the XML itself (not what a client library makes of it).
 */
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, removeNSPrefix: true, textNodeName: '#text' });

export interface SoapAnswer {
  status: number;
  text: string;
  /** The parsed <XResponse> element, or the parsed <Fault>. */
  body: Record<string, unknown>;
  /** Fault type from detail xsi:type, when the answer is a fault. */
  fault?: string;
  faultString?: string;
  setCookie?: string;
}

export class SoapProbe {
  cookie = '';
  constructor(readonly url: string) {}

  /** Posts `<Method xmlns="urn:vim25"><_this type=..>..</_this>inner</Method>`. */
  call(method: string, thisType: string, thisValue: string, inner = ''): Promise<SoapAnswer> {
    return this.raw(
      `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><${method} xmlns="urn:vim25"><_this type="${thisType}">${thisValue}</_this>${inner}</${method}></soapenv:Body></soapenv:Envelope>`,
    );
  }

  async raw(body: string): Promise<SoapAnswer> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'urn:vim25/8.0.3.0', ...(this.cookie ? { cookie: this.cookie } : {}) },
      body,
    });
    const text = await res.text();
    const setCookie = res.headers.get('set-cookie') ?? undefined;
    if (setCookie) this.cookie = setCookie.split(';')[0] as string;
    const env = parser.parse(text) as { Envelope?: { Body?: Record<string, unknown> } };
    const b = env.Envelope?.Body ?? {};
    const fault = b.Fault as { faultstring?: unknown; detail?: Record<string, { '@type'?: string }> } | undefined;
    if (fault) {
      const detail = fault.detail ?? {};
      const first = Object.values(detail)[0];
      return { status: res.status, text, body: fault as Record<string, unknown>, fault: first?.['@type'], faultString: String(fault.faultstring ?? ''), setCookie };
    }
    const key = Object.keys(b).find((k) => k.endsWith('Response'));
    const inner = key ? b[key] : undefined;
    return { status: res.status, text, body: inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}, setCookie };
  }

  async login(user: string, password: string): Promise<SoapAnswer> {
    return this.call('Login', 'SessionManager', 'SessionManager', `<userName>${user}</userName><password>${password}</password>`);
  }

  /** A ContainerView over every object of `type` below the root folder; returns its id. */
  async containerView(type: string): Promise<string> {
    const a = await this.call('CreateContainerView', 'ViewManager', 'ViewManager', `<container type="Folder">group-d1</container><type>${type}</type><recursive>true</recursive>`);
    const rv = a.body.returnval as { '#text': string } | undefined;
    if (!rv) throw new Error(`CreateContainerView failed: ${a.text}`);
    return rv['#text'];
  }
}

/** A PropertyFilterSpec over a ContainerView. */
export function viewSpec(view: string, type: string, paths: string[]): string {
  return (
    `<propSet><type>${type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join('')}</propSet>` +
    `<objectSet><obj type="ContainerView">${view}</obj><skip>true</skip><selectSet xsi:type="TraversalSpec"><name>traverseView</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>`
  );
}

/** A PropertyFilterSpec on one object. */
export function objSpec(type: string, id: string, paths: string[]): string {
  return `<propSet><type>${type}</type>${paths.map((p) => `<pathSet>${p}</pathSet>`).join('')}</propSet><objectSet><obj type="${type}">${id}</obj></objectSet>`;
}

export function asList<T = unknown>(v: unknown): T[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as T[];
}
