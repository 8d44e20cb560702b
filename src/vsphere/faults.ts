import type { MoRef, CryptoKeyId } from './types.ts';

/**
 * vim25 faults as typed errors. Class names are the vim25 type names and the
 * parent chain is kept with `extends`, so `err instanceof InvalidState` also
 * catches InvalidVmState and EncryptionKeyRequired. Code branches on
 * instanceof, never on message text.
 */
export class VimFault extends Error {
  /** The vim25 type name (xsi:type), also for types without a class here. */
  readonly faultType: string;
  /** Every field of the fault as parsed (faultMessage, object, privilegeId, ...). */
  readonly fields: Record<string, unknown>;
  constructor(faultType: string, message: string, fields: Record<string, unknown> = {}) {
    super(message || faultType);
    this.faultType = faultType;
    this.fields = fields;
    this.name = faultType;
  }
}

export class RuntimeFault extends VimFault {}
export class MethodFault extends VimFault {}
export class NotSupported extends RuntimeFault {}
export class MethodNotFound extends VimFault {}
export class InvalidArgument extends RuntimeFault {}
export class InvalidRequest extends RuntimeFault {}
export class InvalidType extends InvalidRequest {}
export class RequestCanceled extends RuntimeFault {}
export class SystemError extends RuntimeFault {}
export class SecurityError extends RuntimeFault {}
export class NoPermission extends SecurityError {
  get object(): MoRef | undefined {
    return this.fields.object as MoRef | undefined;
  }
  get privilegeId(): string | undefined {
    return this.fields.privilegeId as string | undefined;
  }
}
/** Session expired or never logged in. Checked before its parent NoPermission. */
export class NotAuthenticated extends NoPermission {}
export class ManagedObjectNotFound extends RuntimeFault {
  get obj(): MoRef | undefined {
    return this.fields.obj as MoRef | undefined;
  }
}
export class InvalidLogin extends VimFault {}
export class InvalidState extends VimFault {}
export class InvalidVmState extends InvalidState {
  get vm(): MoRef | undefined {
    return this.fields.vm as MoRef | undefined;
  }
}
export class InvalidPowerState extends InvalidState {}
export class EncryptionKeyRequired extends InvalidState {
  get requiredKey(): CryptoKeyId[] {
    return (this.fields.requiredKey as CryptoKeyId[] | undefined) ?? [];
  }
}
export class TaskInProgress extends VimFault {}
export class InvalidCollectorVersion extends VimFault {}
export class VmConfigFault extends VimFault {}
export class GenericVmConfigFault extends VmConfigFault {
  get reason(): string | undefined {
    return this.fields.reason as string | undefined;
  }
}
export class FileFault extends VimFault {}
export class AlreadyExists extends VimFault {}
export class ResourceInUse extends VimFault {}

const faultClasses: Record<string, new (type: string, message: string, fields?: Record<string, unknown>) => VimFault> = {
  RuntimeFault,
  MethodFault,
  NotSupported,
  MethodNotFound,
  InvalidArgument,
  InvalidRequest,
  InvalidType,
  RequestCanceled,
  SystemError,
  SecurityError,
  NoPermission,
  NotAuthenticated,
  ManagedObjectNotFound,
  InvalidLogin,
  InvalidState,
  InvalidVmState,
  InvalidPowerState,
  EncryptionKeyRequired,
  TaskInProgress,
  InvalidCollectorVersion,
  VmConfigFault,
  GenericVmConfigFault,
  FileFault,
  AlreadyExists,
  ResourceInUse,
};

/** Builds the typed fault for a vim25 type name; unknown names become a plain VimFault keeping the name. */
export function faultFromType(faultType: string, message: string, fields: Record<string, unknown> = {}): VimFault {
  const Cls = faultClasses[faultType];
  return Cls ? new Cls(faultType, message, fields) : new VimFault(faultType, message, fields);
}

/** HTTP errors, timeouts, refused connections and malformed XML. Always transient from the caller's view. */
export class TransportError extends Error {
  readonly code = 'VMLOCK_ERR_TRANSPORT' as const;
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransportError';
    this.status = options?.status;
  }
}

/** Faults worth retrying later: the network, a busy object, a cancelled wait, an expired session. */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof TransportError ||
    err instanceof TaskInProgress ||
    err instanceof RequestCanceled ||
    err instanceof NotAuthenticated ||
    err instanceof InvalidCollectorVersion ||
    err instanceof SystemError
  );
}
