/**
 * The commander program: every command's flags (each command file lazy-loads its work).
 * Loaded by main.ts only when a command runs, so `mcml --version` never loads it.
 */
import { Command } from 'commander';
import { COMMANDS } from './commands/index.js';
import { VERSION } from './version.js';

/** What a usage error or --help ends with (main.ts reads its exit code). */
export { CommanderError } from 'commander';

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
