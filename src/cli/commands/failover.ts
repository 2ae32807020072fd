import type { Command } from 'commander';
import type { FailoverDrillFlags } from './failover-drill-run.js';
import type { FailoverRunFlags, FailoverStatusFlags } from './failover-run.js';

export function registerFailover(program: Command): void {
  const failover = program
    .command('failover')
    .description('Health-check every target, route to the best healthy one, fail back calmly');
  failover
    .command('run')
    .description('Run the health loop, the front door proxy and the DNS writer until stopped')
    .option('-f, --file <spec>', 'spec file', 'mcml.yaml')
    .option('--host <address>', 'front door address (default failover.frontDoor.host)')
    .option('-p, --port <port>', 'front door port, 0 for any (default failover.frontDoor.port)')
    .option(
      '--prefer <target>',
      "route to this target before every tier (a front door in a target's own cluster)",
    )
    .option('--events <file>', 'append every event to this file as JSON lines')
    .option('--json', 'print events as JSON lines instead of text')
    .action(async (options: FailoverRunFlags) => {
      const { runFailoverRun } = await import('./failover-run.js');
      await runFailoverRun(options);
    });
  failover
    .command('status')
    .description('Targets, health state, last check, latency and the active target')
    .option('-f, --file <spec>', 'spec file', 'mcml.yaml')
    .option('--url <url>', 'front door of a running controller (default from the spec)')
    .option('--json', 'print the status as JSON')
    .action(async (options: FailoverStatusFlags) => {
      const { runFailoverStatus } = await import('./failover-run.js');
      await runFailoverStatus(options);
    });
  failover
    .command('drill')
    .description('Take a target out of rotation, time the switch, then put it back')
    .argument('<target>', 'target name')
    .option('-f, --file <spec>', 'spec file', 'mcml.yaml')
    .option('--url <url>', 'drill a running controller through its admin API (needs the token)')
    .option('--hold <duration>', 'how long the target stays out', '2s')
    .option(
      '--lease <duration>',
      'with --url: the controller puts the target back by itself if the drill stops renewing this lease (killed)',
      '15s',
    )
    .option('--json', 'print the result as JSON')
    .action(async (target: string, options: FailoverDrillFlags) => {
      const { runFailoverDrill } = await import('./failover-drill-run.js');
      await runFailoverDrill(target, options);
    });
}
