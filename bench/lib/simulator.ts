import { join } from 'node:path';
import { tail, type Child, type ChildSet } from './children.ts';

/** Where a running simulator answers, and its credentials (kept in memory, passed to children by env only). */
export interface SimEndpoint {
  child: Child;
  url: string;
  controlUrl: string;
  user: string;
  password: string;
}

interface ReadyMessage {
  type: 'ready';
  url: string;
  controlUrl: string;
  user: string;
  password: string;
}

function isReady(m: unknown): m is ReadyMessage {
  const r = m as Partial<ReadyMessage> | null;
  return typeof r === 'object' && r !== null && r.type === 'ready' && typeof r.url === 'string' && typeof r.controlUrl === 'string';
}

/** Starts bench/probes/simulator-process.ts with these startSimulator options and waits for its endpoint. */
export async function startSimulatorProcess(
  children: ChildSet,
  repoRoot: string,
  name: string,
  options: Record<string, unknown>,
  timeoutMs = 180_000,
): Promise<SimEndpoint> {
  const child = children.start({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'bench/probes/simulator-process.ts'), JSON.stringify(options)],
    cwd: repoRoot,
    ipc: true,
  });
  const msg = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the simulator did not start within ${timeoutMs / 1000} s; log:\n${tail(child.logFile, 15)}`)), timeoutMs);
    child.proc.on('message', (m: unknown) => {
      if (isReady(m)) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the simulator exited (${code}) before it was ready; log:\n${tail(child.logFile, 15)}`));
    });
  });
  return { child, url: msg.url, controlUrl: msg.controlUrl, user: msg.user, password: msg.password };
}
