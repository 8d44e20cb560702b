/** The shape of a simulated SOAP method. */
import type { MoRef } from '../../vsphere/types.ts';
import type { SimContext } from '../context.ts';
import type { ObjectRegistry } from '../objects.ts';
import type { Node } from '../request.ts';
import type { Session } from '../sessions.ts';

export interface MethodCall {
  ctx: SimContext;
  /** Undefined only for anonymous methods (RetrieveServiceContent, Login). */
  session: Session | undefined;
  thisRef: MoRef;
  args: Node;
  objects: ObjectRegistry;
  client: { ip: string; userAgent: string };
  /** Aborted when the HTTP client goes away (ends a blocking WaitForUpdatesEx). */
  signal: AbortSignal;
  /** Login sets the session cookie through this. */
  setSession(session: Session): void;
}

/** Returns the inner XML of `<MethodResponse>` ('' for void methods). */
export type Handler = (call: MethodCall) => string | Promise<string>;

export interface MethodDef {
  /** Receiver types that implement the method. */
  on: string[];
  handler: Handler;
  /** Callable without a session. */
  anonymous?: boolean;
  /** Absent on --api-version 6.5 (MethodNotFound there). */
  since67?: boolean;
}

/** The session of a call that required one (the dispatcher checked it). */
export function sessionOf(call: MethodCall): Session {
  if (!call.session) throw new Error('internal: method needs a session');
  return call.session;
}
