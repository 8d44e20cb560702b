/**
 * Loads a scenario (a name under config/scenarios/ or a file path), checks it,
 * and builds the world from it: inventory first, host caches filled as after a
 * normal boot, then the scenario's damage (missing keys, cleared caches, KMS
 * down), so lock events and alarms come out as vCenter would raise them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { VmlockError } from '../errors.ts';
import { keyName, type BootEntry, type ControllerType, type KeyRef, type SimController, type SimDisk, type SimHost, type SimVm } from './model.ts';
import { scenarioSchema, type Expectation, type Scenario, type ScenarioVm } from './scenario-schema.ts';
import type { World } from './world.ts';
import { powerOn } from './vm-actions.ts';
import type { SimContext } from './context.ts';

export const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../config/scenarios');

/** A scenario that cannot be loaded; the CLI prints its message (no stack) and exits 2. */
export class ScenarioError extends VmlockError {
  constructor(message: string) {
    super('VMLOCK_ERR_CONFIG', message);
    this.name = 'ScenarioError';
  }
}

/** A scenario name (clean, mixed, storm) or a path to a YAML file. */
export function loadScenario(nameOrPath: string): Scenario {
  const isPath = nameOrPath.includes('/') || nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml');
  const file = isPath ? resolve(nameOrPath) : join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    throw new ScenarioError(`scenario "${nameOrPath}" not found (looked for ${file}); built-in scenarios: clean, mixed, storm`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ScenarioError(`scenario ${file}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseScenario(raw, file);
}

export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) {
    throw new ScenarioError(`${source}: invalid scenario:\n` + r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  }
  checkReferences(r.data, source);
  return r.data;
}

function checkReferences(s: Scenario, source: string): void {
  const problems: string[] = [];
  const kms = new Set(s.kms.map((k) => k.id));
  const hosts = new Set(s.hosts.map((h) => h.name));
  const folders = new Set(s.folders.map((f) => f.name));
  const dup = (list: string[], what: string) => {
    const seen = new Set<string>();
    for (const n of list) {
      if (seen.has(n)) problems.push(`${what} "${n}" is defined twice`);
      seen.add(n);
    }
  };
  dup(s.hosts.map((h) => h.name), 'host');
  dup(s.vms.map((v) => v.name), 'vm');
  dup(s.kms.map((k) => k.id), 'kms');
  if (s.kms.filter((k) => k.default).length > 1) problems.push('kms: only one key provider may be default: true');
  for (const [k, v] of Object.entries(s.keys)) {
    if (typeof v === 'object' && v.cluster && !kms.has(v.cluster)) problems.push(`keys.${k}.cluster: unknown key provider "${v.cluster}"`);
  }
  s.vms.forEach((vm, i) => {
    const where = `vms[${i}] (${vm.name})`;
    if (!hosts.has(vm.host)) problems.push(`${where}.host: unknown host "${vm.host}"`);
    if (vm.folder && !folders.has(vm.folder)) problems.push(`${where}.folder: unknown folder "${vm.folder}"`);
    const keys = [vm.key, ...vm.disks.flatMap((d) => [d.key, ...d.parents])].filter((k): k is string => !!k);
    for (const k of keys) if (!(k in s.keys)) problems.push(`${where}: key "${k}" is not listed under keys`);
    for (const b of vm.bootOrder) {
      const m = /^disk:(\d+)$/.exec(b);
      if (m && Number(m[1]) >= vm.disks.length) problems.push(`${where}.bootOrder: ${b} names no disk (the VM has ${vm.disks.length})`);
    }
    for (const m of vm.missingOnHost) {
      const d = /^disk:(\d+)$/.exec(m);
      if (m === 'home' && !vm.key) problems.push(`${where}.missingOnHost: home, but the VM has no key`);
      if (d && !vm.disks[Number(d[1])]?.key) problems.push(`${where}.missingOnHost: ${m} names no encrypted disk`);
    }
    dup(vm.disks.map((d) => d.at), `${where} disk at`);
  });
  if (problems.length) throw new ScenarioError(`${source}: invalid scenario:\n` + problems.map((p) => `  ${p}`).join('\n'));
}

/** A stable UUID-shaped key id for a scenario key name (or a generated VM). */
export function keyUuid(seed: number, name: string): string {
  const h = createHash('sha1').update(`${seed}:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface BuiltScenario {
  name: string;
  description: string;
  /** Expectations per VM id. */
  expectations: Map<string, { name: string; expect: Expectation }>;
  /** Scenario key name → key. */
  keyAliases: Map<string, KeyRef>;
}

const CONTROLLER_TYPES: Record<string, ControllerType> = {
  scsi: 'ParaVirtualSCSIController',
  sata: 'VirtualAHCIController',
  nvme: 'VirtualNVMEController',
  ide: 'VirtualIDEController',
};
const CONTROLLER_BASE: Record<string, number> = { ide: 200, scsi: 1000, sata: 15000, nvme: 31000 };
const BACKINGS = { flat: 'VirtualDiskFlatVer2BackingInfo', sesparse: 'VirtualDiskSeSparseBackingInfo', sparse: 'VirtualDiskSparseVer2BackingInfo' } as const;

export interface BuildOptions {
  seed: number;
  /** Overrides generate.count. */
  vms?: number;
  adminUser: string;
}

/** Populates an empty world (and users' folder denials) from a scenario; returns its expectations. */
export function buildScenario(ctx: SimContext, s: Scenario, opts: BuildOptions): BuiltScenario {
  const w = ctx.world;
  const seed = opts.seed;
  const defaultKms = (s.kms.find((k) => k.default) ?? s.kms[0]) as Scenario['kms'][number];
  for (const k of s.kms) {
    w.kmsClusters.set(k.id, {
      id: k.id,
      reachable: true,
      useAsDefault: k === defaultKms,
      servers: k.servers.length ? k.servers : [{ name: `${k.id}-server`, address: `${k.id}.kms.example.test`, port: 5696 }],
    });
  }
  const keyAliases = new Map<string, KeyRef>();
  for (const [name, v] of Object.entries(s.keys)) {
    const state = typeof v === 'string' ? v : v.state;
    const cluster = typeof v === 'object' && v.cluster ? v.cluster : defaultKms.id;
    const key = { keyId: keyUuid(seed, name), providerId: cluster };
    keyAliases.set(name, key);
    if (state !== 'missing') w.kmsKeys.set(keyName(key), state);
  }
  const ds = { id: w.newId('datastore'), name: 'vsanDatastore' };
  w.datastores.set(ds.id, ds);
  w.types.set(ds.id, 'Datastore');

  const hostsByName = new Map<string, SimHost>();
  const addHost = (name: string, cryptoState: SimHost['cryptoState']): SimHost => {
    const id = w.newId('host');
    const hostKey = cryptoState === 'safe' ? { keyId: keyUuid(seed, `host-key-${name}`), providerId: defaultKms.id } : undefined;
    if (hostKey) w.kmsKeys.set(keyName(hostKey), 'active');
    const h: SimHost = { id, name, clusterId: w.cluster.id, cryptoState, connectionState: 'connected', cache: new Set(), vms: new Set(), cryptoManagerId: `CryptoManagerHost-${id}`, hostKey, bootTime: Date.now() - 86_400_000 };
    if (hostKey) h.cache.add(keyName(hostKey));
    w.hosts.set(id, h);
    w.types.set(id, 'HostSystem');
    w.types.set(h.cryptoManagerId, 'CryptoManagerHostKMS');
    w.cluster.hostIds.push(id);
    hostsByName.set(name, h);
    return h;
  };
  for (const h of s.hosts) addHost(h.name, h.cryptoState);

  const foldersByName = new Map<string, string>();
  const vmRoot = w.folders.get(w.datacenter.vmFolderId) as { children: string[] };
  for (const f of s.folders) {
    const id = w.newId('group-v', '');
    w.folders.set(id, { id, name: f.name, parentId: w.datacenter.vmFolderId, childType: ['Folder', 'VirtualMachine', 'VirtualApp'], children: [] });
    w.types.set(id, 'Folder');
    vmRoot.children.push(id);
    foldersByName.set(f.name, id);
    for (const d of f.deny) {
      const user = d.user === '${admin}' ? opts.adminUser : d.user;
      if (!ctx.users.has(user)) throw new ScenarioError(`folders.${f.name}.deny: unknown user "${d.user}"; known: ${ctx.users.names().join(', ')}`);
      ctx.users.revoke(user, d.privilege, id);
    }
  }

  const expectations = new Map<string, { name: string; expect: Expectation }>();
  const created: { vm: SimVm; spec: ScenarioVm }[] = [];
  for (const spec of s.vms) {
    const vm = addVm(w, spec, hostsByName.get(spec.host) as SimHost, spec.folder ? (foldersByName.get(spec.folder) as string) : w.datacenter.vmFolderId, ds.id, keyAliases, seed);
    created.push({ vm, spec });
    if (spec.expect) expectations.set(vm.id, { name: vm.name, expect: spec.expect });
  }

  // Generated VMs: each with its own key (home and disk), in the KMS.
  const gen = s.generate;
  const clearedHosts = new Set<SimHost>(s.hosts.filter((h) => h.cacheCleared).map((h) => hostsByName.get(h.name) as SimHost));
  if (gen) {
    const count = opts.vms ?? gen.count;
    const hostCount = Math.max(gen.hosts, Math.ceil(count / gen.maxVmsPerHost));
    const genHosts: SimHost[] = [];
    for (let i = 0; i < hostCount; i++) genHosts.push(addHost(`esx-${String(i + 1).padStart(3, '0')}.example.test`, 'safe'));
    if (gen.cacheCleared) for (const h of genHosts) clearedHosts.add(h);
    for (let i = 0; i < count; i++) {
      const name = `${s.name}-vm-${String(i + 1).padStart(5, '0')}`;
      const key = { keyId: keyUuid(seed, name), providerId: defaultKms.id };
      keyAliases.set(name, key);
      w.kmsKeys.set(keyName(key), 'active');
      const host = genHosts[i % genHosts.length] as SimHost;
      const spec: ScenarioVm = {
        name,
        host: host.name,
        powerState: gen.powerState,
        key: name,
        firmware: 'efi',
        disks: [{ at: 'scsi0:0', key: name, parents: [], backing: 'flat', sizeGB: 16 }],
        bootOrder: ['disk:0'],
        extraConfig: {},
        missingOnHost: [],
        staleAlarm: false,
        powerOnAttempt: false,
      };
      const vm = addVm(w, spec, host, w.datacenter.vmFolderId, ds.id, keyAliases, seed);
      if (gen.expect) expectations.set(vm.id, { name, expect: gen.expect });
    }
  }

  // Hosts booted normally: every key of their VMs is in their cache.
  for (const vm of w.vms.values()) {
    const host = w.hostOf(vm);
    for (const k of vm.homeKey ? [vm.homeKey, ...w.diskKeys(vm)] : w.diskKeys(vm)) host.cache.add(keyName(k));
    vm.lastLocked = false;
  }
  // The damage.
  for (const { vm, spec } of created) {
    const host = w.hostOf(vm);
    for (const m of spec.missingOnHost) {
      const d = /^disk:(\d+)$/.exec(m);
      const k = m === 'home' ? vm.homeKey : vm.disks[Number(d?.[1])]?.keyId;
      if (k) host.cache.delete(keyName(k));
    }
  }
  for (const h of clearedHosts) {
    h.cache.clear();
    if (h.hostKey) h.cache.add(keyName(h.hostKey));
  }
  for (const k of s.kms) (w.kmsClusters.get(k.id) as { reachable: boolean }).reachable = k.reachable;
  for (const vm of w.vms.values()) w.refreshVm(vm);
  for (const { vm, spec } of created) {
    if (spec.staleAlarm) w.triggerAlarm(vm, undefined);
    if (spec.powerOnAttempt) {
      vm.powerState = 'poweredOff';
      powerOn(ctx, vm, opts.adminUser);
    }
  }
  return { name: s.name, description: s.description, expectations, keyAliases };
}

function addVm(w: World, spec: ScenarioVm, host: SimHost, folderId: string, datastoreId: string, aliases: Map<string, KeyRef>, seed: number): SimVm {
  const id = w.newId('vm');
  const uuid = keyUuid(seed, `uuid-${spec.name}`);
  const controllers: SimController[] = [];
  const controllerKey = (kind: string, bus: number): number => {
    const key = (CONTROLLER_BASE[kind] as number) + bus;
    if (!controllers.some((c) => c.key === key)) controllers.push({ key, type: CONTROLLER_TYPES[kind] as ControllerType, busNumber: bus });
    return key;
  };
  const key = (n: string | undefined): KeyRef | undefined => (n ? aliases.get(n) : undefined);
  const dir = `[vsanDatastore] ${spec.name}`;
  const disks: SimDisk[] = spec.disks.map((d, i) => {
    const m = /^(scsi|sata|nvme|ide)(\d):(\d+)$/.exec(d.at) as RegExpExecArray;
    // A snapshot chain: the base file is the oldest link, deltas -000001... are newer; the disk shows the newest.
    const base = i === 0 ? `${dir}/${spec.name}.vmdk` : `${dir}/${spec.name}_${i}.vmdk`;
    const link = (k: number): string => (k === 0 ? base : base.replace(/\.vmdk$/, `-${String(k).padStart(6, '0')}.vmdk`));
    const n = d.parents.length;
    return {
      key: 2000 + i,
      label: `Hard disk ${i + 1}`,
      controllerKey: controllerKey(m[1] as string, Number(m[2])),
      unitNumber: Number(m[3]),
      fileName: link(n),
      backingType: BACKINGS[d.backing],
      keyId: key(d.key),
      parents: d.parents.map((p, j) => ({ fileName: link(n - 1 - j), keyId: key(p) })),
      capacityKB: d.sizeGB * 1024 * 1024,
      uuid: keyUuid(seed, `disk-${spec.name}-${i}`),
    };
  });
  const bootOrder: BootEntry[] = spec.bootOrder.map((b) => {
    if (b === 'cdrom') return { kind: 'cdrom' };
    if (b === 'ethernet') return { kind: 'ethernet', deviceKey: 4000 };
    return { kind: 'disk', deviceKey: 2000 + Number(b.slice(5)) };
  });
  const vm: SimVm = {
    id,
    name: spec.name,
    folderId,
    hostId: host.id,
    datastoreId,
    powerState: spec.powerState,
    homeKey: key(spec.key),
    controllers,
    disks,
    nicKey: 4000,
    bootOrder,
    firmware: spec.firmware,
    extraConfig: spec.extraConfig,
    vmPathName: `${dir}/${spec.name}.vmx`,
    uuid,
    alarms: [],
    changeVersion: 1,
    lastLocked: false,
    connectionOverride: spec.connectionState,
  };
  w.vms.set(id, vm);
  w.types.set(id, 'VirtualMachine');
  host.vms.add(id);
  const folder = w.folders.get(folderId) as { children: string[] };
  folder.children.push(id);
  return vm;
}

