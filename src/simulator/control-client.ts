/**
 * A small typed client of the simulator's control API (/_sim/), for tests, the
 * demo and the benchmark. Every method throws an Error carrying the server's
 * `error` text when the simulator answers 4xx/5xx.
 */
import type { Expectation } from './scenario-schema.ts';

export interface SimKey {
  keyId: string;
  providerId: string;
}

export interface SimVmState {
  moref: string;
  name: string;
  host: string;
  folder: string;
  cryptoState: 'locked' | 'unlocked';
  connectionState: string;
  powerState: string;
  keyId: SimKey | null;
  disks: { key: number; fileName: string; keyId: SimKey | null; parentKeyIds: (SimKey | null)[] }[];
  triggeredAlarms: { alarm: string; overallStatus: string; acknowledged: boolean }[];
}

export interface SimStats {
  calls: Record<string, number>;
  callsTotal: number;
  tasksStarted: Record<string, Record<string, number>>;
  peakConcurrentTasks: number;
  runningTasks: number;
  detachedFiles: string[];
  destroyedFiles: string[];
  vmsByState: { total: number; locked: number; unlocked: number; poweredOn: number; poweredOff: number; suspended: number; withAlarm: number };
  sessions: number;
}

/** A task's times (epoch ms) as the simulator ran it. */
export interface SimTaskTimes {
  id: string;
  method: string;
  vm: string;
  state: 'queued' | 'running' | 'success' | 'error';
  queueTime: number;
  startTime?: number;
  completeTime?: number;
}

export interface SimScenario {
  name: string;
  description: string;
  vms: { moref: string; name: string; expect: Expectation }[];
}

export interface SimEventSummary {
  key: number;
  type: string;
  eventTypeId?: string;
  vm?: string;
  host?: string;
  createdTime: string;
  message: string;
}

export class SimControl {
  private readonly base: string;

  /** `controlUrl` as returned by startSimulator (…/_sim). */
  constructor(controlUrl: string) {
    this.base = controlUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as unknown;
    if (!res.ok) {
      const msg = json && typeof json === 'object' && 'error' in json ? String((json as { error: unknown }).error) : res.statusText;
      throw new Error(`simulator control ${method} ${path}: HTTP ${res.status}: ${msg}`);
    }
    return json as T;
  }

  stats(): Promise<SimStats> {
    return this.call('GET', '/stats');
  }
  /** Recent tasks, oldest first; only those of `method` when given. */
  tasks(method?: string): Promise<SimTaskTimes[]> {
    return this.call('GET', method === undefined ? '/tasks' : `/tasks?method=${encodeURIComponent(method)}`);
  }
  resetStats(): Promise<{ ok: true }> {
    return this.call('POST', '/stats/reset');
  }
  vms(): Promise<SimVmState[]> {
    return this.call('GET', '/vms');
  }
  async vm(morefOrName: string): Promise<SimVmState> {
    const vm = (await this.vms()).find((v) => v.moref === morefOrName || v.name === morefOrName);
    if (!vm) throw new Error(`simulator has no VM ${morefOrName}`);
    return vm;
  }
  scenario(): Promise<SimScenario> {
    return this.call('GET', '/scenario');
  }
  hosts(): Promise<{ moref: string; name: string; cryptoState: string; cacheSize: number; vms: number }[]> {
    return this.call('GET', '/hosts');
  }
  events(afterKey = 0): Promise<SimEventSummary[]> {
    return this.call('GET', `/events?after=${afterKey}`);
  }
  rebootHost(host: string): Promise<{ ok: true; host: string; locked: string[] }> {
    return this.call('POST', `/hosts/${encodeURIComponent(host)}/reboot`);
  }
  removeHostKey(host: string, keyId: string, providerId?: string): Promise<{ ok: true; removed: boolean }> {
    return this.call('POST', `/hosts/${encodeURIComponent(host)}/remove-key`, { keyId, providerId });
  }
  kmsKey(keyId: string, action: 'remove' | 'restore' | 'deactivate' | 'activate', providerId?: string): Promise<{ ok: true; state: string }> {
    return this.call('POST', `/kms/keys/${encodeURIComponent(keyId)}/${action}`, providerId ? { providerId } : {});
  }
  kmsCluster(clusterId: string, state: 'down' | 'up'): Promise<{ ok: true; reachable: boolean }> {
    return this.call('POST', `/kms/${encodeURIComponent(clusterId)}/${state}`);
  }
  lock(vms: string[]): Promise<{ ok: true; locked: string[] }> {
    return this.call('POST', '/lock', { vms });
  }
  powerOnAttempt(vm: string): Promise<{ ok: boolean; fault?: string; message?: string }> {
    return this.call('POST', `/vms/${encodeURIComponent(vm)}/power-on-attempt`);
  }
  removeVm(vm: string): Promise<{ ok: true; removed: string }> {
    return this.call('POST', `/vms/${encodeURIComponent(vm)}/remove`);
  }
  grant(user: string, privilege: string, entity?: string): Promise<{ ok: true }> {
    return this.call('POST', '/privileges/grant', { user, privilege, entity });
  }
  revoke(user: string, privilege: string, entity?: string): Promise<{ ok: true }> {
    return this.call('POST', '/privileges/revoke', { user, privilege, entity });
  }
  expireSessions(): Promise<{ ok: true; ended: number }> {
    return this.call('POST', '/sessions/expire');
  }
  restart(): Promise<{ ok: true }> {
    return this.call('POST', '/restart');
  }
  injectFault(rule: { method: string; fault?: string; delayMs?: number; count?: number }): Promise<{ ok: true }> {
    return this.call('POST', '/faults', rule);
  }
  clearFaults(): Promise<{ ok: true }> {
    return this.call('DELETE', '/faults');
  }
}
