import { ConfigError } from '../errors.ts';

/**
 * Which HTTP port each process kind listens on. Several kinds often share a
 * host (one compose file, one VM), so each adds a fixed offset to http.port:
 * poller +0, worker +1, notifier +2, sim +3, serve +4. Port 0 stays 0 (the OS
 * picks a free port). A second process of the same kind on the same host needs
 * its own http.port (e.g. VMLOCK__http__port=9475) or port 0.
 */
export const PROCESS_KINDS = ['poller', 'worker', 'notifier', 'sim', 'serve'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

export const PORT_OFFSETS: Record<ProcessKind, number> = { poller: 0, worker: 1, notifier: 2, sim: 3, serve: 4 };

export function portFor(kind: ProcessKind, basePort: number): number {
  if (basePort === 0) return 0;
  const port = basePort + PORT_OFFSETS[kind];
  if (port > 65535) {
    throw new ConfigError([{ key: 'http.port', source: 'config', message: `${basePort} + ${PORT_OFFSETS[kind]} (offset of ${kind}) is above 65535` }]);
  }
  return port;
}
