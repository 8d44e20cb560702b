/**
 * A vim25 fault raised by a simulated method. The dispatcher prints it as a SOAP
 * fault (HTTP 500); a task stores it in info.error as a LocalizedMethodFault.
 * Fields are in vim25 element order (govmomi vim25/types).
 */
import type { MoRef } from '../vsphere/types.ts';
import { obj, ref, str, strArr, type XVal } from './xml.ts';

export class SimFault extends Error {
  readonly type: string;
  readonly fields: [string, XVal | undefined][];
  constructor(type: string, message: string, fields: [string, XVal | undefined][] = []) {
    super(message);
    this.type = type;
    this.fields = fields;
  }

  /** The fault as a data object (for LocalizedMethodFault.fault). */
  toXVal(): XVal {
    return obj(this.type, this.fields, true);
  }
}

const moField = (name: string, r: MoRef): [string, XVal] => [name, ref(r.type, r.value)];

export const faults = {
  notAuthenticated: (object: MoRef, privilegeId = 'System.View') =>
    new SimFault('NotAuthenticated', 'The session is not authenticated.', [moField('object', object), ['privilegeId', str(privilegeId)]]),
  noPermission: (object: MoRef, privilegeId: string) =>
    new SimFault('NoPermission', 'Permission to perform this operation was denied.', [
      moField('object', object),
      ['privilegeId', str(privilegeId)],
    ]),
  invalidLogin: () => new SimFault('InvalidLogin', 'Cannot complete login due to an incorrect user name or password.'),
  notFound: (o: MoRef) =>
    new SimFault('ManagedObjectNotFound', 'The object has already been deleted or has not been completely created', [
      moField('obj', o),
    ]),
  methodNotFound: (receiver: MoRef, method: string) =>
    new SimFault('MethodNotFound', `${receiver.type}:${receiver.value} does not implement: ${method}`, [
      moField('receiver', receiver),
      ['method', str(method)],
    ]),
  invalidRequest: (message: string) => new SimFault('InvalidRequest', message),
  /** vim25 InvalidType carries no fields; the message names the argument. */
  invalidType: (message: string, _argument?: string) => new SimFault('InvalidType', message),
  invalidArgument: (message: string, invalidProperty?: string) =>
    new SimFault('InvalidArgument', message, [['invalidProperty', invalidProperty === undefined ? undefined : str(invalidProperty)]]),
  invalidProperty: (name: string) => new SimFault('InvalidProperty', `Property ${name} is not valid`, [['name', str(name)]]),
  invalidState: (message: string) => new SimFault('InvalidState', message),
  invalidVmState: (message: string, vm: MoRef) => new SimFault('InvalidVmState', message, [moField('vm', vm)]),
  invalidPowerState: (message: string, requested: string, existing: string) =>
    new SimFault('InvalidPowerState', message, [
      ['requestedState', { k: 'p', t: 'VirtualMachinePowerState', v: requested }],
      ['existingState', { k: 'p', t: 'VirtualMachinePowerState', v: existing }],
    ]),
  notSupported: (message: string) => new SimFault('NotSupported', message),
  invalidCollectorVersion: () => new SimFault('InvalidCollectorVersion', 'The collector version is invalid'),
  requestCanceled: () => new SimFault('RequestCanceled', 'The task was canceled by a user.'),
  systemError: (reason: string) => new SimFault('SystemError', reason, [['reason', str(reason)]]),
  /** The faultMessage list keeps the hostd message keys visible to clients. */
  withMessages: (type: string, message: string, keys: string[], extra: [string, XVal | undefined][] = []) =>
    new SimFault(type, message, [
      ['faultMessage', { k: 'a', item: 'LocalizableMessage', items: keys.map((key) => obj('LocalizableMessage', [['key', str(key)], ['message', str(message)]])) }],
      ...extra,
    ]),
  strings: strArr,
};
