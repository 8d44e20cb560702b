/**
 * Runs the vCenter simulator in a process of its own, so its CPU and memory
 * are measured apart from vmlock and the bench. Options arrive as JSON in
 * argv[2]; the endpoint and credentials go back over the IPC channel (never
 * stdout, which is the log). Exits when the bench disconnects or sends SIGTERM.
 */
import { startSimulator } from '../../src/simulator/index.ts';

type SimOptions = Parameters<typeof startSimulator>[0];

async function main(): Promise<void> {
  if (!process.send) throw new Error('simulator-process must be started with an IPC channel');
  const options = JSON.parse(process.argv[2] ?? '{}') as SimOptions;
  const sim = await startSimulator(options);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await sim.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
  process.send({ type: 'ready', url: sim.url, controlUrl: sim.controlUrl, user: sim.user, password: sim.password });
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator-process: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
