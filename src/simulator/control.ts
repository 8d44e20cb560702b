/**
 * Control API of the simulator, on the SOAP port under /_sim/ (JSON in and out).
 * Tests, the demo and the benchmark change the world only through it.
 *
 *   GET    /_sim/stats                      calls per method, callsTotal, tasksStarted {vm: {method: n}},
 *                                           peakConcurrentTasks, runningTasks, detachedFiles, destroyedFiles,
 *                                           vmsByState {total, locked, unlocked, poweredOn, poweredOff, withAlarm}, sessions
 *   POST   /_sim/stats/reset                zero the counters (files lists included)
 *   GET    /_sim/vms                        [{moref, name, host, folder, cryptoState, connectionState, powerState,
 *                                            keyId, disks: [{key, fileName, keyId}], triggeredAlarms: [{alarm, overallStatus, acknowledged}]}]
 *   GET    /_sim/scenario                   {name, description, vms: [{moref, name, expect: {outcome, cause, actions}}]}
 *   GET    /_sim/hosts                      [{moref, name, cryptoState, cacheSize}]
 *   GET    /_sim/tasks?method=M             recent tasks, oldest first: [{id, method, vm, state, queueTime, startTime?,
 *                                            completeTime?}] (epoch ms; where a task's time went, for the bench)
 *   GET    /_sim/events?after=KEY           [{key, type, eventTypeId, vm, message}] (oldest first, at most 1000)
 *   POST   /_sim/hosts/{host}/reboot        the host's key cache empties (its host key stays); its encrypted VMs lock
 *                                           and STAY locked until unlocked (vCenter does not re-push keys here)
 *   POST   /_sim/hosts/{host}/remove-key    {keyId, providerId?} as RemoveKey on the host: VMs needing it lock
 *   POST   /_sim/kms/keys/{keyId}/remove | restore | deactivate | activate    ({providerId?} in the body)
 *   POST   /_sim/kms/{clusterId}/down | up
 *   POST   /_sim/lock                       {vms: [moref...]}: drop each VM's home key from its host cache
 *   POST   /_sim/vms/{vm}/power-on-attempt  a user's power-on: {ok, fault?} (a failure emits VmFailedToPowerOnEvent)
 *   POST   /_sim/vms/{vm}/remove            unregister the VM (the vm-gone case): ManagedObjectNotFound from then on
 *   POST   /_sim/privileges/grant | revoke  {user, privilege, entity?} (entity: a moref or folder name; none = global)
 *   POST   /_sim/sessions/expire            every session ends (next call: NotAuthenticated)
 *   POST   /_sim/restart                    as a vCenter restart: sessions, filters, collectors, versions lost; world kept
 *   POST   /_sim/faults                     {method, fault?: vim25 fault name, delayMs?, count (default 1)}
 *   DELETE /_sim/faults                     drop every injected fault and delay
 *
 * {host}, {vm} accept a moref (host-12, vm-42) or a name; {keyId} a key id or a scenario key name.
 * A bad request (bad JSON, a missing field, an unknown VM/host/key/provider) gets HTTP 400 {error}
 * naming the problem; an unknown route 404 {error}.
 */
import type { SimContext } from './context.ts';
import { keyName, type KeyRef, type SimHost, type SimVm } from './model.ts';
import type { BuiltScenario } from './scenario.ts';
import { powerOn } from './vm-actions.ts';

export interface ControlResult {
  status: number;
  json: unknown;
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (msg: string) => new ControlError(400, msg);
/** An unknown VM, host, key or provider is a bad request too (400). */
const notFound = (msg: string) => new ControlError(400, msg);

function body(b: unknown): Record<string, unknown> {
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw bad('the request body must be a JSON object');
  return b as Record<string, unknown>;
}

function str(b: Record<string, unknown>, field: string, required: true): string;
function str(b: Record<string, unknown>, field: string, required?: false): string | undefined;
function str(b: Record<string, unknown>, field: string, required = false): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) {
    if (required) throw bad(`"${field}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw bad(`"${field}" must be a non-empty string`);
  return v;
}

export class Control {
  constructor(
    private readonly ctx: SimContext,
    private readonly scenario: BuiltScenario,
  ) {}

  handle(method: string, url: URL, rawBody: unknown): ControlResult {
    try {
      return { status: 200, json: this.route(method, url, rawBody) };
    } catch (err) {
      if (err instanceof ControlError) return { status: err.status, json: { error: err.message } };
      return { status: 400, json: { error: err instanceof Error ? err.message : String(err) } };
    }
  }

  private route(method: string, url: URL, rawBody: unknown): unknown {
    const parts = url.pathname.replace(/^\/_sim\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    const [a, b, c, d] = parts;
    const w = this.ctx.world;
    if (method === 'GET' && a === 'stats' && parts.length === 1) return this.stats();
    if (method === 'POST' && a === 'stats' && b === 'reset' && parts.length === 2) return this.resetStats();
    if (method === 'GET' && a === 'vms' && parts.length === 1) return [...w.vms.values()].map((vm) => this.vmJson(vm));
    if (method === 'GET' && a === 'hosts' && parts.length === 1) return [...w.hosts.values()].map((h) => ({ moref: h.id, name: h.name, cryptoState: h.cryptoState, cacheSize: h.cache.size, vms: h.vms.size }));
    if (method === 'GET' && a === 'tasks' && parts.length === 1) {
      const only = url.searchParams.get('method');
      return this.ctx.tasks.recent().flatMap((id) => {
        const t = this.ctx.tasks.get(id);
        if (!t || (only !== null && t.method !== only)) return [];
        return [{ id: t.id, method: t.method, vm: t.entity.id, state: t.state, queueTime: t.queueTime, startTime: t.startTime, completeTime: t.completeTime }];
      });
    }
    if (method === 'GET' && a === 'scenario' && parts.length === 1) {
      return {
        name: this.scenario.name,
        description: this.scenario.description,
        vms: [...this.scenario.expectations].map(([moref, e]) => ({ moref, name: e.name, expect: e.expect })),
      };
    }
    if (method === 'GET' && a === 'events' && parts.length === 1) {
      const after = Number(url.searchParams.get('after') ?? '0');
      if (!Number.isFinite(after)) throw bad('"after" must be an event key (a number)');
      return w.events.readAfter(after, 1000, () => true).map((e) => ({ key: e.key, type: e.type, eventTypeId: e.eventTypeId, vm: e.vm?.id, host: e.host?.id, createdTime: new Date(e.createdTime).toISOString(), message: e.message }));
    }
    if (method === 'POST' && a === 'hosts' && b && parts.length === 3) {
      const host = this.host(b);
      if (c === 'reboot') {
        w.rebootHost(host);
        return { ok: true, host: host.id, locked: [...host.vms].filter((id) => w.isLocked(w.vms.get(id) as SimVm)) };
      }
      if (c === 'remove-key') {
        const bd = body(rawBody);
        const key = this.key(str(bd, 'keyId', true), str(bd, 'providerId'));
        return { ok: true, removed: w.removeHostKey(host, key) };
      }
    }
    if (method === 'POST' && a === 'kms' && b === 'keys' && c && d && parts.length === 4) {
      const bd = body(rawBody);
      const key = this.key(c, str(bd, 'providerId'));
      const name = keyName(key);
      switch (d) {
        case 'remove':
          w.kmsKeys.delete(name);
          break;
        case 'restore':
        case 'activate':
          w.kmsKeys.set(name, 'active');
          break;
        case 'deactivate':
          if (!w.kmsKeys.has(name)) throw bad(`key ${key.keyId} is not in the KMS (restore it first)`);
          w.kmsKeys.set(name, 'inactive');
          break;
        default:
          throw bad(`unknown key action "${d}"; use remove, restore, deactivate or activate`);
      }
      w.touch('CryptoManager');
      return { ok: true, keyId: key.keyId, providerId: key.providerId, state: w.kmsKeys.get(name) ?? 'missing' };
    }
    if (method === 'POST' && a === 'kms' && b && c && parts.length === 3) {
      const cluster = w.kmsClusters.get(b);
      if (!cluster) throw notFound(`unknown key provider "${b}"; known: ${[...w.kmsClusters.keys()].join(', ')}`);
      if (c !== 'down' && c !== 'up') throw bad(`unknown key provider action "${c}"; use down or up`);
      cluster.reachable = c === 'up';
      w.touch('CryptoManager');
      return { ok: true, clusterId: cluster.id, reachable: cluster.reachable };
    }
    if (method === 'POST' && a === 'lock' && parts.length === 1) {
      const bd = body(rawBody);
      const list = bd.vms;
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw bad('"vms" must be an array of VM morefs');
      const vms = (list as string[]).map((id) => this.vm(id));
      for (const vm of vms) if (!vm.homeKey) throw bad(`${vm.id} (${vm.name}) is not encrypted; it cannot lock`);
      for (const vm of vms) w.lock(vm);
      return { ok: true, locked: vms.map((v) => v.id) };
    }
    if (method === 'POST' && a === 'vms' && b && c === 'power-on-attempt' && parts.length === 3) {
      const vm = this.vm(b);
      const fault = powerOn(this.ctx, vm, 'user@vsphere.local');
      return fault ? { ok: false, fault: fault.type, message: fault.message } : { ok: true };
    }
    if (method === 'POST' && a === 'vms' && b && c === 'remove' && parts.length === 3) {
      const vm = this.vm(b);
      w.removeVm(vm);
      return { ok: true, removed: vm.id };
    }
    if (method === 'POST' && a === 'privileges' && (b === 'grant' || b === 'revoke') && parts.length === 2) {
      const bd = body(rawBody);
      const user = str(bd, 'user', true);
      const privilege = str(bd, 'privilege', true);
      const entity = str(bd, 'entity');
      if (!this.ctx.users.has(user)) throw bad(`unknown user "${user}"; known: ${this.ctx.users.names().join(', ')}`);
      const entityId = entity === undefined ? '*' : this.entity(entity);
      if (b === 'grant') this.ctx.users.grant(user, privilege, entityId);
      else this.ctx.users.revoke(user, privilege, entityId);
      return { ok: true, user, privilege, entity: entityId === '*' ? null : entityId };
    }
    if (method === 'POST' && a === 'sessions' && b === 'expire' && parts.length === 2) {
      const n = this.ctx.sessions.size;
      this.ctx.sessions.endAll();
      return { ok: true, ended: n };
    }
    if (method === 'POST' && a === 'restart' && parts.length === 1) {
      this.ctx.sessions.endAll();
      this.ctx.faultRules.length = 0;
      return { ok: true };
    }
    if (a === 'faults' && parts.length === 1) {
      if (method === 'DELETE') {
        this.ctx.faultRules.length = 0;
        return { ok: true };
      }
      if (method === 'POST') {
        const bd = body(rawBody);
        const m = str(bd, 'method', true);
        const fault = str(bd, 'fault');
        const delayMs = bd.delayMs;
        const count = bd.count ?? 1;
        if (fault !== undefined && !/^[A-Z][A-Za-z]+$/.test(fault)) throw bad(`"fault" must be a vim25 fault type name such as NotAuthenticated`);
        if (delayMs !== undefined && (typeof delayMs !== 'number' || delayMs < 0 || delayMs > 600_000)) throw bad('"delayMs" must be a number of milliseconds between 0 and 600000');
        if (fault === undefined && delayMs === undefined) throw bad('give "fault" or "delayMs" (or both)');
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw bad('"count" must be a positive integer');
        this.ctx.faultRules.push({ method: m, fault, delayMs: delayMs as number | undefined, remaining: count });
        return { ok: true, rules: this.ctx.faultRules.length };
      }
    }
    throw new ControlError(404, `no control route ${method} ${url.pathname}; see the list at the top of src/simulator/control.ts`);
  }

  private stats(): unknown {
    const w = this.ctx.world;
    const byState = { total: 0, locked: 0, unlocked: 0, poweredOn: 0, poweredOff: 0, suspended: 0, withAlarm: 0 };
    for (const vm of w.vms.values()) {
      byState.total++;
      if (w.isLocked(vm)) byState.locked++;
      else byState.unlocked++;
      byState[vm.powerState]++;
      if (vm.alarms.length) byState.withAlarm++;
    }
    return {
      calls: this.ctx.stats.calls,
      callsTotal: this.ctx.stats.callsTotal,
      tasksStarted: this.ctx.tasks.stats.tasksStarted,
      peakConcurrentTasks: this.ctx.tasks.stats.peakConcurrentTasks,
      runningTasks: this.ctx.tasks.runningCount,
      detachedFiles: w.detachedFiles,
      destroyedFiles: w.destroyedFiles,
      vmsByState: byState,
      sessions: this.ctx.sessions.size,
    };
  }

  private resetStats(): unknown {
    this.ctx.stats.calls = {};
    this.ctx.stats.callsTotal = 0;
    this.ctx.tasks.resetStats();
    this.ctx.world.detachedFiles.length = 0;
    this.ctx.world.destroyedFiles.length = 0;
    return { ok: true };
  }

  private vmJson(vm: SimVm): unknown {
    const w = this.ctx.world;
    const k = (key: KeyRef | undefined) => (key ? { keyId: key.keyId, providerId: key.providerId } : null);
    return {
      moref: vm.id,
      name: vm.name,
      host: vm.hostId,
      folder: vm.folderId,
      cryptoState: w.cryptoState(vm),
      connectionState: w.connectionState(vm),
      powerState: vm.powerState,
      keyId: k(vm.homeKey),
      disks: vm.disks.map((d) => ({ key: d.key, fileName: d.fileName, keyId: k(d.keyId), parentKeyIds: d.parents.map((p) => k(p.keyId)) })),
      triggeredAlarms: vm.alarms.map((a) => ({ alarm: a.alarmId, overallStatus: a.overallStatus, acknowledged: a.acknowledged })),
    };
  }

  private vm(idOrName: string): SimVm {
    const w = this.ctx.world;
    const vm = w.vms.get(idOrName) ?? [...w.vms.values()].find((v) => v.name === idOrName);
    if (!vm) throw notFound(`unknown VM "${idOrName}"`);
    return vm;
  }

  private host(idOrName: string): SimHost {
    const w = this.ctx.world;
    const h = w.hosts.get(idOrName) ?? [...w.hosts.values()].find((x) => x.name === idOrName);
    if (!h) throw notFound(`unknown host "${idOrName}"; known: ${[...w.hosts.values()].map((x) => x.id).join(', ')}`);
    return h;
  }

  private entity(idOrName: string): string {
    const w = this.ctx.world;
    if (w.typeOf(idOrName)) return idOrName;
    const folder = [...w.folders.values()].find((f) => f.name === idOrName);
    if (folder) return folder.id;
    const vm = [...w.vms.values()].find((v) => v.name === idOrName);
    if (vm) return vm.id;
    throw notFound(`unknown entity "${idOrName}"`);
  }

  /** A key by id or scenario name; the provider is found when not given. */
  private key(idOrName: string, providerId: string | undefined): KeyRef {
    const w = this.ctx.world;
    const alias = this.scenario.keyAliases.get(idOrName);
    if (alias) return providerId ? { keyId: alias.keyId, providerId } : alias;
    if (providerId) return { keyId: idOrName, providerId };
    for (const k of this.scenario.keyAliases.values()) if (k.keyId === idOrName) return k;
    for (const c of w.kmsClusters.keys()) if (w.kmsKeys.has(keyName({ keyId: idOrName, providerId: c }))) return { keyId: idOrName, providerId: c };
    throw notFound(`unknown key "${idOrName}"; give a scenario key name, a known key id, or providerId`);
  }
}
