/**
 * What happens to a VM when someone acts on it: power-on (the product's task or
 * a user's attempt through the control API), key pushes and disk detach. Shared
 * by the SOAP methods and the control API so both follow the same rules.
 */
import type { SimContext } from './context.ts';
import { faults, SimFault } from './fault.ts';
import type { SimVm } from './model.ts';
import { REGISTER_VM } from './users.ts';

/** Power-on as hostd does it; emits VmPoweredOnEvent or VmFailedToPowerOnEvent. Returns the fault on failure. */
export function powerOn(ctx: SimContext, vm: SimVm, userName: string): SimFault | undefined {
  const w = ctx.world;
  if (vm.powerState === 'poweredOn') {
    return faults.invalidPowerState('The attempted operation cannot be performed in the current state (Powered on).', 'poweredOn', 'poweredOn');
  }
  const fault = w.powerOnFault(vm);
  const common = {
    userName,
    datacenter: w.named(w.datacenter.id),
    computeResource: w.named(w.cluster.id),
    host: w.named(vm.hostId),
    vm: w.named(vm.id),
  };
  if (fault) {
    w.events.emit({ ...common, type: 'VmFailedToPowerOnEvent', message: `Failed to power on ${vm.name} on ${w.nameOf(vm.hostId)} in ${w.datacenter.name}: ${fault.message}`, reason: fault });
    return fault;
  }
  vm.powerState = 'poweredOn';
  w.events.emit({ ...common, type: 'VmPoweredOnEvent', message: `${vm.name} on ${w.nameOf(vm.hostId)} in ${w.datacenter.name} is powered on` });
  w.touch(vm.id);
  return undefined;
}

/** The VM folder and its ancestors, nearest first (where privileges are checked). */
export function folderChain(ctx: SimContext, vm: SimVm): string[] {
  const chain = [vm.id];
  let cur: string | undefined = vm.folderId;
  while (cur !== undefined && chain.length < 32) {
    chain.push(cur);
    cur = ctx.world.parentOf(cur);
  }
  return chain;
}

export function hasRegisterVm(ctx: SimContext, vm: SimVm, userName: string): boolean {
  return ctx.users.hasPrivilege(userName, REGISTER_VM, folderChain(ctx, vm).slice(1));
}

/** The body of CryptoUnlock_Task once it runs. */
export function unlock(ctx: SimContext, vm: SimVm): void {
  const w = ctx.world;
  const host = w.hostOf(vm);
  if (host.cryptoState === 'incapable' || host.cryptoState === 'pendingIncapable') {
    // Documented choice: InvalidState (the host cannot receive keys), not NotSupported.
    throw faults.invalidState(`Host ${host.name} is not crypto safe (cryptoState ${host.cryptoState}); keys cannot be sent to it.`);
  }
  if (vm.homeKey && !w.kmsClusters.has(vm.homeKey.providerId)) {
    throw faults.invalidState(`The key provider ${vm.homeKey.providerId} is not configured.`);
  }
  if (host.cryptoState === 'prepared') {
    host.cryptoState = 'safe';
    w.touch(host.id);
  }
  const r = w.sendKeys(vm);
  if (!r.homeSent) {
    const why = r.failed.find((f) => f.key === vm.homeKey)?.reason ?? 'unknown';
    throw faults.invalidVmState(`Failed to unlock virtual machine ${vm.name}: the VM key ${vm.homeKey?.keyId} could not be sent to host ${host.name} (${why}).`, { type: 'VirtualMachine', value: vm.id });
  }
}

/** Removes a disk from a VM (ReconfigVM_Task deviceChange remove). `destroy` deletes its file. */
export function removeDisk(ctx: SimContext, vm: SimVm, deviceKey: number, destroy: boolean): void {
  const i = vm.disks.findIndex((d) => d.key === deviceKey);
  if (i < 0) throw faults.invalidArgument(`Device ${deviceKey} is not a virtual disk of ${vm.name}`, 'spec.deviceChange.device.key');
  const disk = vm.disks[i] as SimVm['disks'][number];
  vm.disks.splice(i, 1);
  vm.bootOrder = vm.bootOrder.filter((b) => !(b.kind === 'disk' && b.deviceKey === deviceKey));
  vm.changeVersion++;
  if (destroy) ctx.world.destroyedFiles.push(disk.fileName);
  else ctx.world.detachedFiles.push(disk.fileName);
  ctx.world.touch(vm.id);
}

export { SimFault };
