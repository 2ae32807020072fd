import type { Command } from 'commander';
import type { ValidateCommandOptions } from './validate-run.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a spec file: schema, references, regions and instance types')
    .argument('[file]', 'spec file (default: mcml.yaml)')
    .option('-f, --file <file>', 'spec file (same as the argument)')
    .option('--json', 'print the validated spec (defaults applied) as JSON')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .action(async (file: string | undefined, options: ValidateCommandOptions) => {
      const { runValidate } = await import('./validate-run.js');
      await runValidate(file, options);
    });
}
