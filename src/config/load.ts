import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { configSchema, type Config, type VcenterConfig } from './schema.ts';
import { ConfigError } from '../errors.ts';

type Plain = Record<string, unknown>;
type Problem = { key: string; source: string; message: string };

const here = dirname(fileURLToPath(import.meta.url));
/** The shipped reference configuration: every setting with its default. */
export const DEFAULT_CONFIG_FILE = resolve(here, '../../config/default.yaml');

export interface LoadOptions {
  /** The operator's file; VMLOCK_CONFIG when unset. Optional: defaults alone are valid. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, applied last. */
  overrides?: Plain;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later wins; objects merge by key, arrays and scalars replace. */
function merge(base: Plain, top: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(top)) {
    out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
  }
  return out;
}

function readYaml(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ key: '(file)', source: file, message: `cannot read: ${(err as Error).message}` }]);
  }
  try {
    const doc: unknown = parseYaml(text);
    if (doc === null || doc === undefined) return {};
    if (!isPlain(doc)) throw new ConfigError([{ key: '(root)', source: file, message: 'expected a mapping at the top level' }]);
    return doc;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError([{ key: '(syntax)', source: file, message: `not valid YAML${where}: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text.startsWith('[') || text.startsWith('{')) {
    try {
      return parseYaml(text);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * Environment overrides: VMLOCK__policy__dryRun=true sets policy.dryRun;
 * VMLOCK__vcenters__0__url sets the first vCenter's url. Segments match keys
 * case-insensitively so VMLOCK__POLICY__DRYRUN works too.
 */
function envOverrides(env: NodeJS.ProcessEnv, base: Plain): { values: Plain; keys: Map<string, string> } {
  const values: Plain = {};
  const keys = new Map<string, string>();
  const known = merge(base, {});
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('VMLOCK__') || raw === undefined) continue;
    const segments = name.slice('VMLOCK__'.length).split('__').filter(Boolean);
    if (segments.length === 0) continue;
    let target: Plain = values;
    let shape: unknown = known;
    const path: string[] = [];
    segments.forEach((seg, i) => {
      const candidates = isPlain(shape) ? Object.keys(shape) : [];
      const key = candidates.find((c) => c.toLowerCase() === seg.toLowerCase()) ?? seg;
      path.push(key);
      if (i === segments.length - 1) {
        target[key] = scalar(raw);
      } else {
        const next = /^\d+$/.test(segments[i + 1] ?? '') ? target[key] ?? [] : target[key] ?? {};
        target[key] = next;
        target = next as Plain;
        shape = isPlain(shape) ? shape[key] : undefined;
      }
    });
    keys.set(path.join('.'), name);
  }
  return { values, keys };
}

function hasPath(obj: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null || !(p as string in (cur as object))) return false;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return true;
}

/**
 * Loads config/default.yaml, then the operator's file, then VMLOCK__ environment
 * overrides, then flags. Validates once, reports every problem with its key and
 * the file (or variable) it came from, and returns a frozen result.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.VMLOCK_CONFIG;
  const defaults = readYaml(DEFAULT_CONFIG_FILE);
  if (file && !existsSync(file)) {
    throw new ConfigError([{ key: '(file)', source: file, message: 'file not found' }]);
  }
  const user = file ? readYaml(file) : {};
  let merged = merge(defaults, user);
  const { values: fromEnv, keys: envKeys } = envOverrides(env, merged);
  merged = merge(merged, fromEnv);
  if (opts.overrides) merged = merge(merged, opts.overrides);

  const sourceOf = (path: readonly PropertyKey[]): string => {
    const dotted = path.join('.');
    for (const [k, name] of envKeys) if (dotted === k || dotted.startsWith(k + '.') || k.startsWith(dotted + '.')) return `environment ${name}`;
    if (opts.overrides && path.length > 0 && hasPath(opts.overrides, path)) return 'command-line flags';
    if (file && hasPath(user, path.slice(0, Math.max(1, path.length)))) return file;
    if (file && path.length > 1 && hasPath(user, path.slice(0, 1))) return file;
    return DEFAULT_CONFIG_FILE;
  };

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems: Problem[] = result.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      let key = path.join('.') || '(root)';
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') {
        key = [...path, ...issue.keys].join('.');
        message = `unknown setting "${issue.keys.join('", "')}"`;
        // Blame the unknown key itself, not its parent (the root has no source).
        return { key, source: sourceOf([...path, issue.keys[0] ?? '']), message };
      }
      return { key, source: sourceOf(path), message };
    });
    throw new ConfigError(problems);
  }
  const config = result.data;
  const problems: Problem[] = [];
  config.vcenters.forEach((vc, i) => {
    const set = [vc.password, vc.passwordFile, vc.passwordEnv].filter((v) => v !== undefined).length;
    if (set !== 1) {
      problems.push({ key: `vcenters.${i}.password`, source: sourceOf(['vcenters', i]), message: 'set exactly one of password, passwordFile or passwordEnv' });
    }
    if (vc.tls.insecure && (vc.tls.caFile || vc.tls.thumbprint)) {
      problems.push({ key: `vcenters.${i}.tls.insecure`, source: sourceOf(['vcenters', i, 'tls']), message: 'insecure cannot be combined with caFile or thumbprint' });
    }
    if (config.vcenters.findIndex((o) => o.name === vc.name) !== i) {
      problems.push({ key: `vcenters.${i}.name`, source: sourceOf(['vcenters', i]), message: `duplicate vCenter name "${vc.name}"` });
    }
  });
  if (config.http.enabled && !isLoopback(config.http.host) && !config.http.token && !config.http.tokenFile) {
    problems.push({ key: 'http.token', source: sourceOf(['http']), message: `http.host ${config.http.host} is not a loopback address, so a bearer token (token or tokenFile) is required` });
  }
  if (config.poller.waitMax >= Math.min(...config.vcenters.map((v) => v.callTimeout), Infinity)) {
    problems.push({ key: 'poller.waitMax', source: sourceOf(['poller', 'waitMax']), message: 'must be shorter than every vCenter callTimeout' });
  }
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(config);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Reads a vCenter's password from its one configured source. Never logged. */
export function resolvePassword(vc: VcenterConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (vc.password !== undefined) return vc.password;
  if (vc.passwordFile !== undefined) {
    try {
      return readFileSync(vc.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError([{ key: `vcenters[${vc.name}].passwordFile`, source: vc.passwordFile, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}` }]);
    }
  }
  if (vc.passwordEnv !== undefined) {
    const v = env[vc.passwordEnv];
    if (v === undefined) throw new ConfigError([{ key: `vcenters[${vc.name}].passwordEnv`, source: 'environment', message: `variable ${vc.passwordEnv} is not set` }]);
    return v;
  }
  throw new ConfigError([{ key: `vcenters[${vc.name}].password`, source: 'config', message: 'no password source' }]);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
