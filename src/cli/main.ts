import { Command, CommanderError } from 'commander';
import { commandModules } from './commands/index.ts';
import { VmlockError } from '../errors.ts';

export async function buildProgram(): Promise<Command> {
  const program = new Command('vmlock')
    .description('Keeps encrypted vSphere VMs from staying locked: watch, diagnose, remediate, unlock, notify.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Configuration: config/default.yaml holds every setting with its default; --config FILE (or
VMLOCK_CONFIG) is merged over it, then VMLOCK__<section>__<key> variables
(e.g. VMLOCK__policy__dryRun=true). Commands that talk to vCenter also take --vcenter URL
--user U --password-file F [--ca-file F | --thumbprint HEX | --insecure].

Try it: vmlock demo (the whole job on the embedded simulator). Docs: README.md, docs/operations.md.`,
    )
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

// `vmlock --help | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const invokedDirectly = process.argv[1] && /(?:main\.ts|vmlock(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
