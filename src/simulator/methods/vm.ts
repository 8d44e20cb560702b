/** VirtualMachine methods: CryptoUnlock_Task, PowerOnVM_Task, PowerOffVM_Task, ReconfigVM_Task, reloadVirtualMachineFromPath_Task. */
import { faults } from '../fault.ts';
import type { SimVm } from '../model.ts';
import { asArray, childText, requireText, type Node } from '../request.ts';
import type { SimTask } from '../tasks.ts';
import { REGISTER_VM } from '../users.ts';
import { hasRegisterVm, powerOn, removeDisk, unlock } from '../vm-actions.ts';
import { moref, type XVal } from '../xml.ts';
import { sessionOf, type MethodCall, type MethodDef } from './types.ts';

function vmOf(c: MethodCall): SimVm {
  const vm = c.ctx.world.vms.get(c.thisRef.value);
  if (!vm) throw faults.notFound(c.thisRef);
  return vm;
}

function startTask(c: MethodCall, vm: SimVm, method: string, descriptionId: string, run: () => XVal | undefined): string {
  const t: SimTask = c.ctx.tasks.create(method, descriptionId, { type: 'VirtualMachine', id: vm.id, name: vm.name }, sessionOf(c).userName, run);
  return moref('returnval', { type: 'Task', value: t.id });
}

export const vmMethods: Record<string, MethodDef> = {
  CryptoUnlock_Task: {
    on: ['VirtualMachine'],
    since67: true,
    handler: (c) => {
      const vm = vmOf(c);
      const user = sessionOf(c).userName;
      if (!hasRegisterVm(c.ctx, vm, user)) {
        throw faults.noPermission({ type: 'Folder', value: vm.folderId }, REGISTER_VM);
      }
      return startTask(c, vm, 'CryptoUnlock_Task', 'VirtualMachine.cryptoUnlock', () => {
        unlock(c.ctx, vm);
        return undefined;
      });
    },
  },
  PowerOnVM_Task: {
    on: ['VirtualMachine'],
    handler: (c) => {
      const vm = vmOf(c);
      const user = sessionOf(c).userName;
      return startTask(c, vm, 'PowerOnVM_Task', 'VirtualMachine.powerOn', () => {
        const fault = powerOn(c.ctx, vm, user);
        if (fault) throw fault;
        return undefined;
      });
    },
  },
  PowerOffVM_Task: {
    on: ['VirtualMachine'],
    handler: (c) => {
      const vm = vmOf(c);
      return startTask(c, vm, 'PowerOffVM_Task', 'VirtualMachine.powerOff', () => {
        if (vm.powerState !== 'poweredOn') throw faults.invalidPowerState('The attempted operation cannot be performed in the current state (Powered off).', 'poweredOff', vm.powerState);
        vm.powerState = 'poweredOff';
        c.ctx.world.touch(vm.id);
        return undefined;
      });
    },
  },
  ReconfigVM_Task: {
    on: ['VirtualMachine'],
    handler: (c) => {
      const vm = vmOf(c);
      const spec = c.args.spec as Node | undefined;
      if (!spec || typeof spec !== 'object') throw faults.invalidRequest('ReconfigVM_Task: missing required argument spec');
      const changes = asArray(spec.deviceChange).map((d, i) => {
        const dn = d as Node;
        const operation = childText(dn, 'operation');
        const fileOperation = childText(dn, 'fileOperation');
        const device = dn.device as Node | undefined;
        const where = `spec.deviceChange[${i}]`;
        if (!device || typeof device !== 'object') throw faults.invalidArgument(`${where}.device is required`, `${where}.device`);
        const keyText = childText(device, 'key');
        if (keyText === undefined || !/^-?\d+$/.test(keyText)) throw faults.invalidType(`${where}.device.key must be an int`, `${where}.device.key`);
        const devType = String(device['@xsitype'] ?? 'VirtualDisk');
        if (operation !== 'remove' || devType !== 'VirtualDisk') {
          throw faults.notSupported(`${where}: the simulator supports only operation "remove" of a VirtualDisk (got ${operation ?? 'no operation'} of ${devType})`);
        }
        if (fileOperation !== undefined && fileOperation !== 'destroy') throw faults.invalidArgument(`${where}.fileOperation "${fileOperation}" is not valid for remove`, `${where}.fileOperation`);
        return { key: Number(keyText), destroy: fileOperation === 'destroy' };
      });
      return startTask(c, vm, 'ReconfigVM_Task', 'VirtualMachine.reconfigure', () => {
        if (c.ctx.world.isLocked(vm)) {
          throw faults.invalidState(`The operation is not allowed in the current state of ${vm.name}: the virtual machine is locked (its encryption key is missing on the host).`);
        }
        for (const ch of changes) removeDisk(c.ctx, vm, ch.key, ch.destroy);
        return undefined;
      });
    },
  },
  reloadVirtualMachineFromPath_Task: {
    on: ['VirtualMachine'],
    handler: (c) => {
      const vm = vmOf(c);
      const path = requireText(c.args, 'configurationPath', 'reloadVirtualMachineFromPath_Task');
      const user = sessionOf(c).userName;
      const locked = c.ctx.world.isLocked(vm);
      if (vm.powerState === 'poweredOn' && !locked) {
        throw faults.invalidPowerState('The attempted operation cannot be performed in the current state (Powered on).', 'poweredOff', 'poweredOn');
      }
      if (path !== vm.vmPathName) throw faults.invalidArgument(`configurationPath "${path}" is not the configuration file of ${vm.name}`, 'configurationPath');
      return startTask(c, vm, 'reloadVirtualMachineFromPath_Task', 'VirtualMachine.reloadFromPath', () => {
        // Re-registration sends the keys only when the user holds Cryptographer.RegisterVM; otherwise the VM stays locked.
        if (hasRegisterVm(c.ctx, vm, user)) c.ctx.world.sendKeys(vm);
        vm.changeVersion++;
        c.ctx.world.touch(vm.id);
        return undefined;
      });
    },
  },
};
