/**
 * The mcml command line. Commands live in `commands/<name>.ts`; each registers its flags and
 * lazy-loads its implementation. Only this file decides exit codes. `mcml --version` answers
 * before anything else loads (start-up is measured in BENCHMARKS.md).
 */
import { McmlError } from '../core/errors.js';
import { VERSION } from './version.js';

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { buildProgram, CommanderError } = await import('./program.js');
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0; usage errors were printed.
      return error.exitCode === 0 ? 0 : 2;
    }
    const [{ exitCodeFor }, { formatError, useColor }] = await Promise.all([
      import('../core/errors.js'),
      import('./output.js'),
    ]);
    process.stderr.write(formatError(error, useColor(process.stderr)) + '\n');
    return exitCodeFor(error);
  }
}

/** Throws a USAGE error; for commands that check their own arguments. */
export function usage(message: string, hint?: string): never {
  throw new McmlError('USAGE', message, hint === undefined ? {} : { hint });
}
