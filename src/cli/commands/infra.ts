import type { Command } from 'commander';
import type { InfraCommandOptions } from './infra-run.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function common(command: Command): Command {
  return command
    .option('-o, --out <dir>', 'the directory "mcml render" wrote', 'out')
    .option(
      '--root <names>',
      'only these roots, comma-separated (aws, gcp, azure, aws-addons, azure-addons, dns)',
    )
    .option(
      '--plugin-dir <dir>',
      'take providers from this directory, not the registry (terraform init -plugin-dir)',
    )
    .option(
      '--backend-config <key=value|file>',
      'extra state backend setting for terraform init (repeatable), e.g. a role or profile',
      collect,
    );
}

export function registerInfra(program: Command): void {
  const infra = program
    .command('infra')
    .description(
      'Run terraform (or tofu) on the rendered roots in <out>/terraform: each cloud, its add-ons, then dns',
    );
  common(
    infra
      .command('plan')
      .description(
        'terraform init + plan in every root; --save keeps the plans for "mcml infra apply <file>"',
      )
      .option('--save <file>', "save each root's plan under this name (terraform plan -out)"),
  ).action(async (options: InfraCommandOptions) => {
    const { runInfra } = await import('./infra-run.js');
    await runInfra('plan', options);
  });
  common(
    infra
      .command('apply')
      .description(
        'terraform init + apply in every root (or the saved plans), then write identities.json for "mcml render --identities"',
      )
      .argument('[plan]', 'apply the plans saved by "mcml infra plan --save <plan>", nothing else')
      .option('--auto-approve', 'apply without asking (needed without a terminal, e.g. in CI)'),
  ).action(async (plan: string | undefined, options: InfraCommandOptions) => {
    const { runInfra } = await import('./infra-run.js');
    await runInfra('apply', options, plan);
  });
}
