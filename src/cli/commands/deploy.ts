import type { Command } from 'commander';
import type { DeployCommandOptions } from './deploy-run.js';
import type { DiffCommandOptions } from './deploy-diff-run.js';
import type { DeployStatusOptions } from './deploy-status-run.js';
import type { RollbackCommandOptions } from './deploy-rollback-run.js';

/** The flags that say where the objects and the clusters come from. */
function sourceFlags(c: Command): Command {
  return c
    .argument('[file]', 'spec file (default: mcml.yaml)')
    .option('-f, --file <file>', 'spec file (same as the argument)')
    .option(
      '-o, --out <dir>',
      'the directory "mcml render" / "mcml infra apply" wrote (identities.json, contexts.json)',
      'out',
    )
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .option('--plan <file>', 'use this plan JSON ("mcml plan --json") instead of planning')
    .option('--identities <file>', 'workload identities (default: <out>/identities.json if there)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)');
}

/** The flags of a rollout (deploy and rollback). */
function rolloutFlags(c: Command): Command {
  return c
    .option('--all-at-once', 'one wave: every target at the same time')
    .option(
      '--order <order>',
      'wave order by failover tier: lowest-risk (standby first) or primary-first',
      'lowest-risk',
    )
    .option('--waves <waves>', 'waves by hand: "azure-eus;gcp-usc1,aws-use1" (";" between waves)')
    .option(
      '--timeout <duration>',
      "longest wait for one target's rollout (default 10m, or the Deployment's progress deadline + 1m when the model's cacheSize asks for longer)",
    )
    .option('--prometheus-url <url>', 'Prometheus to ask for the metric gate')
    .option(
      '--gate <promql>',
      'metric gate: passes when the query returns samples, none 0 ($target = target name)',
    )
    .option('--bake <duration>', 'watch each target this long after its gates pass', '0s')
    .option('--unreachable <what>', 'a cluster that stays unreachable: fail or skip', 'fail')
    .option(
      '--retries <n>',
      'tries again to reach a cluster this many times (backoff 1s, 2s, …)',
      '3',
    )
    .option('--force-conflicts', 'take fields another manager owns (server-side apply force)')
    .option('--json', 'print one JSON event per line instead of progress');
}

export function registerDeploy(program: Command): void {
  const deploy = registerDeployCommand(program);
  registerDeployDiff(deploy);
  registerDeployStatus(deploy);
  registerDeployRollback(deploy);
}

/** `mcml deploy` itself; its subcommands hang off the command it returns. */
function registerDeployCommand(program: Command): Command {
  return rolloutFlags(
    sourceFlags(
      program
        .command('deploy')
        .description(
          'Apply the service to every cluster in waves: rollout, health and metric gates, bake, rollback on failure',
        ),
    ),
  )
    .option('--no-prune', 'keep objects mcml created earlier that the spec no longer has')
    .option('--no-rollback', 'leave a target that fails at its new revision')
    .option(
      '--dry-run',
      'ask every cluster what would change (server-side dry run); change nothing',
    )
    .action(async (file: string | undefined, options: DeployCommandOptions) => {
      const { runDeployCommand } = await import('./deploy-run.js');
      await runDeployCommand(file, options);
    });
}

function registerDeployDiff(deploy: Command): void {
  sourceFlags(
    deploy
      .command('diff')
      .description('Show what a deploy would change on each cluster (server-side dry run)'),
  )
    .option('--no-prune', 'do not show what pruning would remove')
    .option('--json', 'print the changes as JSON')
    .action(async (file: string | undefined, options: DiffCommandOptions) => {
      const { runDiffCommand } = await import('./deploy-diff-run.js');
      await runDiffCommand(file, options);
    });
}

function registerDeployStatus(deploy: Command): void {
  sourceFlags(
    deploy
      .command('status')
      .description('One table across clusters: revision, image, model, replicas, conditions, age'),
  )
    .option('--json', 'print the status of every cluster as JSON')
    .option('--watch', 'print the table again as it changes, until Ctrl-C')
    .option('--interval <duration>', 'how often --watch reads the clusters', '2s')
    .action(async (file: string | undefined, options: DeployStatusOptions) => {
      const { runDeployStatus } = await import('./deploy-status-run.js');
      await runDeployStatus(file, options);
    });
}

function registerDeployRollback(deploy: Command): void {
  rolloutFlags(
    deploy
      .command('rollback')
      .description(
        'Apply the objects of an earlier revision again (default: the one before the current)',
      )
      .argument('[targets...]', 'targets to roll back (default: every cloud target)')
      .option('-f, --file <file>', 'spec file (default: mcml.yaml)')
      .option('-o, --out <dir>', 'the directory "mcml infra apply" wrote (contexts.json)', 'out')
      .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
      .option('--plan <file>', 'use this plan JSON instead of planning')
      .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
      .option('--to <revision>', 'the revision to return to (mcml deploy status lists them)'),
  ).action(async (targets: string[], options: RollbackCommandOptions) => {
    const { runRollbackCommand } = await import('./deploy-rollback-run.js');
    await runRollbackCommand(targets, options);
  });
}
