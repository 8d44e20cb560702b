import { soapFault } from './fault-parse.ts';
import { TransportError } from './faults.ts';
import { child, childrenNamed, parseXml, XmlSyntaxError, type XNode } from './xml.ts';
import { decodeValue, type Decoded } from './decode.ts';

/**
 * Reads one SOAP response body: returns the response element (e.g.
 * RetrievePropertiesExResponse), throws the typed VimFault of a SOAP Fault, and
 * a TransportError for malformed XML, an unexpected HTTP status or a response
 * that is not the one asked for. A bare response element without an envelope
 * (seen in captures) is accepted.
 */
export function parseSoapResponse(body: string, opts: { method?: string; status?: number } = {}): XNode {
  const what = opts.method ?? 'SOAP call';
  const status = opts.status ?? 200;
  if (status !== 200 && status !== 500) {
    throw new TransportError(`${what}: HTTP ${status} from vCenter${body.trim().startsWith('<') ? '' : ' (not a SOAP response)'}`, { status });
  }
  let root: XNode;
  try {
    root = parseXml(body);
  } catch (err) {
    if (err instanceof XmlSyntaxError) throw new TransportError(`${what}: ${err.message}`, { cause: err, status });
    throw err;
  }
  let payload: XNode | undefined = root;
  if (root.name === 'Envelope') {
    const soapBody = child(root, 'Body');
    if (!soapBody) throw new TransportError(`${what}: SOAP envelope without Body`, { status });
    payload = soapBody.children[0];
    if (!payload) throw new TransportError(`${what}: empty SOAP Body`, { status });
  }
  if (payload.name === 'Fault') throw soapFault(payload);
  if (status === 500) throw new TransportError(`${what}: HTTP 500 without a SOAP fault`, { status });
  if (opts.method && payload.name !== `${opts.method}Response`) {
    throw new TransportError(`${what}: unexpected response element ${payload.name} (expected ${opts.method}Response)`, { status });
  }
  return payload;
}

/** Every returnval of a response element, decoded generically (void → []). */
export function returnValues(response: XNode): Decoded[] {
  return childrenNamed(response, 'returnval').map(decodeValue);
}

/** The single returnval; undefined when absent (unset / null result). */
export function returnValue(response: XNode): Decoded {
  const r = child(response, 'returnval');
  return r ? decodeValue(r) : undefined;
}
