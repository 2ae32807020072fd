/**
 * The mcml command line. Commands live in `commands/<name>.ts`; each registers its flags and
 * lazy-loads its implementation. Only this file decides exit codes.
 */
import { Command, CommanderError } from 'commander';
import { McmlError, exitCodeFor } from '../core/errors.js';
import { formatError, useColor } from './output.js';
import { COMMANDS } from './commands/index.js';
import { VERSION } from './version.js';

/** Builds the program. Exported for tests of flag parsing. */
export function buildProgram(): Command {
  const program = new Command('mcml')
    .description(
      'Deploy one ML inference service to AWS, GCP and Azure at once, and keep it alive, fed and priced.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    // A subcommand's flags are its own: `deploy status -f x` is not `deploy -f x status`.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => process.stdout.write(s),
    });
  for (const register of COMMANDS) register(program);
  program.commands.forEach(function override(c: Command) {
    c.exitOverride();
    c.commands.forEach(override);
  });
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0; usage errors were printed.
      return error.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(formatError(error, useColor(process.stderr)) + '\n');
    return exitCodeFor(error);
  }
}

/** Throws a USAGE error; for commands that check their own arguments. */
export function usage(message: string, hint?: string): never {
  throw new McmlError('USAGE', message, hint === undefined ? {} : { hint });
}
