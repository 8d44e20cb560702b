import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tail } from '../lib/children.ts';
import type { PhaseEnv } from '../lib/phase.ts';
import { round } from '../lib/stats.ts';

/** WSDL load and 10k-VM parse times, measured by bench/client-bench.ts in a fresh process. */
export interface ClientResult {
  wsdlLoadMs: number;
  importMs: number;
  parse10kMs: number;
  parseMedianMs: number;
  parseColdMs: number;
  parseVms: number;
  responseMb: number;
}

export async function runClient(env: PhaseEnv): Promise<ClientResult> {
  const out = join(env.tmpDir, 'client-result.json');
  env.log(`client: WSDL load and parse of a ${env.opts.parseVms}-VM RetrievePropertiesEx response`);
  const children = env.newChildSet();
  const child = children.start({
    name: 'client-bench',
    command: process.execPath,
    args: ['--expose-gc', '--import', 'tsx', join(env.repoRoot, 'bench/client-bench.ts'), String(env.opts.parseVms), out],
    cwd: env.repoRoot,
  });
  const timer = setTimeout(() => void children.stop(child, 1000), 300_000);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0 || !existsSync(out)) throw new Error(`client-bench exited with ${code}:\n${tail(child.logFile, 10)}`);
  const r = JSON.parse(readFileSync(out, 'utf8')) as ClientResult;
  return {
    wsdlLoadMs: round(r.wsdlLoadMs, 1),
    importMs: round(r.importMs, 1),
    parse10kMs: round(r.parse10kMs, 1),
    parseMedianMs: round(r.parseMedianMs, 1),
    parseColdMs: round(r.parseColdMs, 1),
    parseVms: r.parseVms,
    responseMb: round(r.responseMb, 2),
  };
}
