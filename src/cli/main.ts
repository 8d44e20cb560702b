import { Command, CommanderError } from 'commander';
import { commandModules } from './commands/index.ts';
import { VmlockError } from '../errors.ts';

export async function buildProgram(): Promise<Command> {
  const program = new Command('vmlock')
    .description('Keeps encrypted vSphere VMs from staying locked: watch, diagnose, remediate, unlock, notify.')
    .showHelpAfterError()
    .exitOverride();
  for (const load of commandModules) (await load()).register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof VmlockError) {
      process.stderr.write(`vmlock: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`vmlock: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && /(?:main\.ts|vmlock(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
