/**
 * One SOAP call, as govmomi's simulator dispatches it: parse → find the method
 * (MethodNotFound) → check the session (NotAuthenticated) → find the object
 * (ManagedObjectNotFound) → check the receiver type and API version
 * (MethodNotFound) → injected faults/delays → run. Every failure is a vim25 fault
 * in a SOAP envelope with HTTP 500; nothing a client sends can crash the server.
 */
import type { SimContext } from './context.ts';
import { faults, SimFault } from './fault.ts';
import { authMethods } from './methods/auth.ts';
import { cryptoMethods } from './methods/crypto.ts';
import { eventMethods } from './methods/events.ts';
import { propertyMethods } from './methods/property.ts';
import { sessionMethods } from './methods/session.ts';
import type { MethodDef } from './methods/types.ts';
import { vmMethods } from './methods/vm.ts';
import { isA, ObjectRegistry } from './objects.ts';
import { parseSoapRequest, type SoapCall } from './request.ts';
import type { Session } from './sessions.ts';
import { faultEnvelope, responseEnvelope } from './xml.ts';

export const METHODS: Record<string, MethodDef> = {
  ...sessionMethods,
  ...propertyMethods,
  ...vmMethods,
  ...cryptoMethods,
  ...eventMethods,
  ...authMethods,
};

export interface SoapResult {
  status: number;
  body: string;
  /** A new session to set as cookie (Login). */
  session?: Session;
}

export interface HttpInfo {
  cookie: string | undefined;
  ip: string;
  userAgent: string;
  signal: AbortSignal;
}

/** Session-scoped ids carry the session key; logs get the id without it. */
const logId = (id: string): string => id.replace(/^session\[[^\]]*\]/, 'session[…]');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function handleSoap(ctx: SimContext, xml: string, http: HttpInfo, latencyMs: number): Promise<SoapResult> {
  let call: SoapCall | undefined;
  try {
    call = parseSoapRequest(xml);
  } catch (err) {
    ctx.stats.callsTotal++;
    return faultResult(err, ctx);
  }
  ctx.stats.calls[call.method] = (ctx.stats.calls[call.method] ?? 0) + 1;
  ctx.stats.callsTotal++;
  if (latencyMs > 0) await sleep(latencyMs);
  let newSession: Session | undefined;
  try {
    const body = await run(ctx, call, http, (s) => (newSession = s));
    ctx.logger.debug({ method: call.method, this: logId(call.thisRef.value) }, 'soap call');
    return { status: 200, body: responseEnvelope(call.method, body), session: newSession };
  } catch (err) {
    if (err instanceof SimFault) ctx.logger.debug({ method: call.method, this: logId(call.thisRef.value), fault: err.type }, 'soap fault');
    return faultResult(err, ctx);
  }
}

function faultResult(err: unknown, ctx: SimContext): SoapResult {
  if (err instanceof SimFault) return { status: 500, body: faultEnvelope(err.type, err.message, err.fields) };
  ctx.logger.error({ err }, 'simulator bug while handling a SOAP call');
  const f = faults.systemError(`Internal simulator error: ${err instanceof Error ? err.message : String(err)}`);
  return { status: 500, body: faultEnvelope(f.type, f.message, f.fields) };
}

async function run(ctx: SimContext, call: SoapCall, http: HttpInfo, setSession: (s: Session) => void): Promise<string> {
  const def = METHODS[call.method];
  if (!def) throw faults.methodNotFound(call.thisRef, call.method);
  const session = ctx.sessions.get(http.cookie);
  if (!def.anonymous && !session) throw faults.notAuthenticated(call.thisRef);
  const objects = new ObjectRegistry(ctx, session);
  const type = objects.typeOf(call.thisRef.value);
  if (!type || (type !== call.thisRef.type && !isA(type, call.thisRef.type))) throw faults.notFound(call.thisRef);
  if (!def.on.includes(type)) throw faults.methodNotFound(call.thisRef, call.method);
  if (def.since67 && ctx.world.apiVersion === '6.5') throw faults.methodNotFound(call.thisRef, call.method);
  await applyFaultRules(ctx, call);
  const body = await def.handler({
    ctx,
    session,
    thisRef: call.thisRef,
    args: call.args,
    objects,
    client: { ip: http.ip, userAgent: http.userAgent },
    signal: http.signal,
    setSession,
  });
  // A call that blocked (WaitForUpdatesEx) counts as activity until it ends.
  if (session) session.lastActive = Date.now();
  return body;
}

async function applyFaultRules(ctx: SimContext, call: SoapCall): Promise<void> {
  const rule = ctx.faultRules.find((r) => r.method === call.method && r.remaining > 0);
  if (!rule) return;
  rule.remaining--;
  if (rule.remaining <= 0) ctx.faultRules.splice(ctx.faultRules.indexOf(rule), 1);
  if (rule.delayMs) await sleep(rule.delayMs);
  if (rule.fault) throw injectedFault(rule.fault, call);
}

function injectedFault(type: string, call: SoapCall): SimFault {
  switch (type) {
    case 'NotAuthenticated':
      return faults.notAuthenticated(call.thisRef);
    case 'ManagedObjectNotFound':
      return faults.notFound(call.thisRef);
    case 'RequestCanceled':
      return faults.requestCanceled();
    case 'InvalidCollectorVersion':
      return faults.invalidCollectorVersion();
    case 'SystemError':
      return faults.systemError('Injected by the simulator');
    default:
      return new SimFault(type, `Injected ${type} fault on ${call.method}`);
  }
}
