import type { Command } from 'commander';
import type { UpCommandOptions } from './up-run.js';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'Run the whole deployment on this machine: buckets, synced model and data, replicas, failover front door, dashboard and metrics',
    )
    .argument(
      '[file]',
      'spec file (default: ./mcml.yaml, else the bundled examples/local/mcml.yaml)',
    )
    .option('-f, --file <file>', 'spec file (same as the argument)')
    .option(
      '-p, --port <port>',
      'port of the front door and dashboard (default: failover.frontDoor.port, 8080)',
    )
    .option(
      '--host <address>',
      'address to listen on (default: failover.frontDoor.host, 127.0.0.1)',
    )
    .option('--state-dir <dir>', 'where mcml up keeps its files (default: .mcml beside the spec)')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .option('--ready-timeout <duration>', 'how long replicas may take to become ready', '90s')
    .option('-q, --quiet', 'do not print the event timeline')
    .action(async (file: string | undefined, options: UpCommandOptions) => {
      const { runUp } = await import('./up-run.js');
      await runUp(file, options);
    });
}
