import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import soap from 'soap';
import { TransportError } from './faults.ts';
import { parseSoapResponse } from './response.ts';
import type { HttpReply, HttpTransport } from './transport.ts';
import type { XNode } from './xml.ts';

/** The local vim25 subset; never downloaded. */
export const WSDL_PATH = resolve(dirname(fileURLToPath(import.meta.url)), 'wsdl/vim25.wsdl');

/**
 * What soap's own parser gets back. Responses are read by response.ts instead:
 * measured on 2 cores, soap needs 13–15 s and ~190 MB for a 10k-VM
 * RetrievePropertiesEx with device lists, keeps anyType primitives as strings,
 * loses empty arrays and crashes with a TypeError on any response element the
 * WSDL lacks. Our strict one-pass scanner (xml.ts) plus namespace-aware
 * generic decoding (decode.ts) reads every response one way and faster
 * (bench/client-bench.ts measures it). soap still builds every request from
 * the WSDL (element order) and drives the call.
 */
const STUB_RESPONSE = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>';

interface CallContext {
  method: string;
  timeoutMs: number;
  reply?: HttpReply;
  error?: unknown;
  /** The request envelope as sent (for request-shape tests). */
  request?: string;
}

/** soap's pluggable HTTP client: hands the envelope to our transport, keeps the real reply in the call's context. */
class ContextHttpClient {
  constructor(private readonly transport: HttpTransport) {}
  request(_url: string, data: string, callback: (err: unknown, res?: unknown, body?: unknown) => void, _headers: unknown, exoptions?: { vmlockCall?: CallContext }): void {
    const ctx = exoptions?.vmlockCall;
    if (!ctx) {
      callback(new Error('vmlock: SOAP call without context'));
      return;
    }
    ctx.request = data;
    this.transport.post(data, { timeoutMs: ctx.timeoutMs, method: ctx.method }).then(
      (reply) => {
        ctx.reply = reply;
      },
      (err: unknown) => {
        ctx.error = err;
      },
    ).finally(() => callback(null, { status: 200, headers: {}, data: STUB_RESPONSE }, STUB_RESPONSE));
  }
}

type AsyncMethod = (args: unknown, options: unknown) => Promise<unknown>;

export class SoapCaller {
  private constructor(private readonly client: soap.Client) {}

  static async create(transport: HttpTransport): Promise<SoapCaller> {
    const client = await soap.createClientAsync(WSDL_PATH, {
      httpClient: new ContextHttpClient(transport) as unknown as soap.IHttpClient,
      endpoint: transport.url.toString(),
      // The parsed WSDL is cached by path, so every client after the first skips the load.
      disableCache: false,
    });
    return new SoapCaller(client);
  }

  /** Sends one operation; returns the parsed response element or throws a VimFault/TransportError. */
  async call(method: string, args: Record<string, unknown>, timeoutMs: number): Promise<{ response: XNode; request: string }> {
    const fn = (this.client as unknown as Record<string, AsyncMethod | undefined>)[`${method}Async`];
    if (typeof fn !== 'function') throw new TransportError(`${method} is not declared in the vmlock vim25 WSDL`);
    const ctx: CallContext = { method, timeoutMs };
    try {
      await fn.call(this.client, args, { vmlockCall: ctx });
    } catch (err) {
      // Only our stub reaches soap's parser; anything thrown here is a request-building problem.
      if (ctx.error === undefined) throw new TransportError(`${method}: could not build the request: ${(err as Error).message}`, { cause: err });
    }
    if (ctx.error !== undefined) throw ctx.error;
    if (!ctx.reply) throw new TransportError(`${method}: no reply`);
    return { response: parseSoapResponse(ctx.reply.body, { method, status: ctx.reply.status }), request: ctx.request ?? '' };
  }
}
