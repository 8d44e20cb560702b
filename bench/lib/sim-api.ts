/**
 * The few calls the bench makes on the simulator's control API (/_sim/), with
 * the answers checked for the fields the figures are computed from, so a
 * changed API fails with a message naming the field instead of a NaN figure.
 */

export interface SimStats {
  /** SOAP calls by method since the last reset. */
  calls: Record<string, number>;
  callsTotal: number;
  peakConcurrentTasks: number;
  /** VM counts by state; the bench reads the locked count. */
  vmsByState: Record<string, number>;
  raw: Record<string, unknown>;
}

export interface SimVmInfo {
  moref: string;
  host?: string;
  locked?: boolean;
  raw: Record<string, unknown>;
}

export class SimApiError extends Error {
  override name = 'SimApiError';
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SimApiError(`simulator ${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function numberField(o: Record<string, unknown>, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SimApiError(`simulator ${what}: field "${key}" is missing or not a number`);
  return v;
}

function countMap(v: unknown, what: string): Record<string, number> {
  const o = record(v ?? {}, what);
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(o)) if (typeof n === 'number') out[k] = n;
  return out;
}

export class SimApi {
  readonly #base: string;

  /** controlUrl as the simulator reports it (with or without the /_sim suffix). */
  constructor(controlUrl: string) {
    this.#base = controlUrl.replace(/\/+$/, '').replace(/\/_sim$/, '') + '/_sim';
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const init: RequestInit = { method, signal: AbortSignal.timeout(30_000) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const res = await fetch(this.#base + path, init);
    const text = await res.text();
    if (!res.ok) throw new SimApiError(`simulator ${method} /_sim${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    if (!text) return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new SimApiError(`simulator ${method} /_sim${path}: answer is not JSON`);
    }
  }

  async stats(): Promise<SimStats> {
    const o = record(await this.#call('GET', '/stats'), 'stats');
    return {
      calls: countMap(o.calls, 'stats.calls'),
      callsTotal: numberField(o, 'callsTotal', 'stats'),
      peakConcurrentTasks: numberField(o, 'peakConcurrentTasks', 'stats'),
      vmsByState: countMap(o.vmsByState, 'stats.vmsByState'),
      raw: o,
    };
  }

  async resetStats(): Promise<void> {
    await this.#call('POST', '/stats/reset');
  }

  async lock(morefs: readonly string[]): Promise<void> {
    await this.#call('POST', '/lock', { vms: morefs });
  }

  async rebootHost(host: string): Promise<void> {
    await this.#call('POST', `/hosts/${encodeURIComponent(host)}/reboot`);
  }

  async vms(): Promise<SimVmInfo[]> {
    const answer = await this.#call('GET', '/vms');
    const list = Array.isArray(answer) ? answer : (record(answer, 'vms').vms as unknown);
    if (!Array.isArray(list)) throw new SimApiError('simulator /_sim/vms: expected a list of VMs');
    return list.map((item, i) => {
      const o = record(item, `vms[${i}]`);
      const moref = typeof o.moref === 'string' ? o.moref : typeof o.id === 'string' ? o.id : undefined;
      if (!moref) throw new SimApiError(`simulator /_sim/vms[${i}]: no moref`);
      const vm: SimVmInfo = { moref, raw: o };
      const host = typeof o.host === 'string' ? o.host : typeof o.hostId === 'string' ? o.hostId : undefined;
      if (host) vm.host = host;
      if (typeof o.locked === 'boolean') vm.locked = o.locked;
      else if (typeof o.cryptoState === 'string') vm.locked = o.cryptoState === 'locked';
      return vm;
    });
  }
}

/** Locked VMs according to the stats (the key may be "locked" or a cryptoState map). */
export function lockedCount(stats: SimStats): number {
  return stats.vmsByState.locked ?? 0;
}
