/**
 * Process entry of one incident worker: `tsx workers/worker.ts` (config from
 * VMLOCK_CONFIG). Same as `vmlock worker`.
 */
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { runWorkerUntilSignal } from '../src/worker/run.ts';

const config = loadConfig();
const logger = createLogger({ level: config.logging.level, name: 'worker' });
await runWorkerUntilSignal({ config, logger });
