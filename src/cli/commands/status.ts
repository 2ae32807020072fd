import type { Command } from 'commander';
import type { StatusCommandOptions } from './status-run.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      'Show a running mcml up: targets, health, active target, replicas, traffic, cost, events',
    )
    .option(
      '--url <url>',
      'URL of the running mcml up (or $MCML_URL)',
      process.env.MCML_URL ?? 'http://127.0.0.1:8080',
    )
    .option('--json', 'print the state API answer as JSON')
    .option('--events <n>', 'how many recent events to show', '8')
    .action(async (options: StatusCommandOptions) => {
      const { runStatus } = await import('./status-run.js');
      await runStatus(options);
    });
}
