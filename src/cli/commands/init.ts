import type { Command } from 'commander';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Write a commented starter mcml.yaml')
    .argument('[file]', 'where to write it', 'mcml.yaml')
    .option('--force', 'overwrite an existing file')
    .action(async (file: string, options: { force?: boolean }) => {
      const { runInit } = await import('./init-run.js');
      await runInit(file, options);
    });
}
