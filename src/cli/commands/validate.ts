import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a spec file: schema, references, regions and instance types')
    .argument('[file]', 'spec file', 'mcml.yaml')
    .option('--json', 'print the validated spec (defaults applied) as JSON')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .action(async (file: string, options: { json?: boolean; catalog?: string }) => {
      const { runValidate } = await import('./validate-run.js');
      await runValidate(file, options);
    });
}
