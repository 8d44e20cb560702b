import { errorMessage } from '../errors.ts';

/**
 * What the simulator's scenario expects of each VM (GET /_sim/scenario), and
 * the few /_sim/stats figures the report shows. Parsed defensively: a bad
 * answer gives an error that says what was wrong, never a crash.
 */
export type ExpectedOutcome = 'resolved' | 'escalated' | 'failed' | 'none';

export interface ExpectedVm {
  moref: string;
  name: string;
  outcome: ExpectedOutcome;
  /** Cause codes the diagnosis should find (any order; others may come too). */
  causes: string[];
  /** Action kinds expected to succeed, when the scenario says. */
  actions?: string[];
}

export interface ScenarioExpectations {
  name: string;
  vms: ExpectedVm[];
}

const OUTCOMES: readonly string[] = ['resolved', 'escalated', 'failed', 'none'];

/**
 * Scenarios may name actions by the vim25 method the simulator sees
 * (CryptoUnlock_Task) or by the incident's action kind (cryptoUnlock).
 */
const ACTION_KIND_BY_METHOD: Record<string, string> = {
  CryptoUnlock_Task: 'cryptoUnlock',
  ReconfigVM_Task: 'detachDisk',
  PowerOnVM_Task: 'powerOn',
  reloadVirtualMachineFromPath_Task: 'reload',
  AcknowledgeAlarm: 'acknowledgeAlarm',
};

export function actionKind(name: string): string {
  return ACTION_KIND_BY_METHOD[name] ?? name;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap((x) => (typeof x === 'string' ? [x] : isObj(x) && str(x.code) ? [x.code as string] : isObj(x) && str(x.kind) ? [x.kind as string] : []));
  return [];
}

/** Accepts { name|scenario, vms: [{ moref|id, name, expect: { outcome, cause|causes, actions } }] }. */
export function parseScenario(body: unknown): ScenarioExpectations {
  if (!isObj(body)) throw new Error('GET /_sim/scenario: expected a JSON object');
  const name = str(body.name) ?? str(body.scenario) ?? (isObj(body.scenario) ? str(body.scenario.name) : undefined) ?? 'unknown';
  const list = Array.isArray(body.vms) ? body.vms : isObj(body.scenario) && Array.isArray(body.scenario.vms) ? body.scenario.vms : undefined;
  if (!list) throw new Error('GET /_sim/scenario: no "vms" array in the answer');
  const vms: ExpectedVm[] = [];
  list.forEach((raw, i) => {
    if (!isObj(raw)) throw new Error(`GET /_sim/scenario: vms[${i}] is not an object`);
    const moref = str(raw.moref) ?? str(raw.id) ?? (isObj(raw.moref) ? str(raw.moref.value) : undefined);
    if (!moref) throw new Error(`GET /_sim/scenario: vms[${i}] has no moref`);
    const expect = isObj(raw.expect) ? raw.expect : isObj(raw.expected) ? raw.expected : raw;
    const outcome = str(expect.outcome) ?? 'none';
    if (!OUTCOMES.includes(outcome)) throw new Error(`GET /_sim/scenario: vms[${i}] (${moref}) expects outcome "${outcome}", not one of ${OUTCOMES.join(', ')}`);
    const vm: ExpectedVm = {
      moref,
      name: str(raw.name) ?? moref,
      outcome: outcome as ExpectedOutcome,
      causes: [...strings(expect.cause), ...strings(expect.causes)],
    };
    const actions = strings(expect.actions).map(actionKind);
    if (actions.length) vm.actions = actions;
    vms.push(vm);
  });
  return { name, vms };
}

export interface SimStats {
  callsTotal?: number;
  peakConcurrentTasks?: number;
  detachedFiles: string[];
  destroyedFiles: string[];
}

export function parseSimStats(body: unknown): SimStats {
  const b = isObj(body) ? body : {};
  const files = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []);
  const stats: SimStats = { detachedFiles: files(b.detachedFiles), destroyedFiles: files(b.destroyedFiles) };
  if (typeof b.callsTotal === 'number') stats.callsTotal = b.callsTotal;
  if (typeof b.peakConcurrentTasks === 'number') stats.peakConcurrentTasks = b.peakConcurrentTasks;
  return stats;
}

export async function getJson(url: string, timeoutMs = 10_000): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`GET ${url}: ${errorMessage(err)}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`GET ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
  }
}
