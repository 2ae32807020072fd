import type { Command } from 'commander';
import type { InfraCommandOptions } from './infra-run.js';

export function registerInfra(program: Command): void {
  const infra = program
    .command('infra')
    .description('Run terraform (or tofu) on the rendered root module in <out>/terraform');
  for (const action of ['plan', 'apply'] as const) {
    infra
      .command(action)
      .description(
        action === 'plan'
          ? 'terraform init + plan in <out>/terraform'
          : 'terraform init + apply in <out>/terraform, then write identities.json for "mcml render --identities"',
      )
      .option('-o, --out <dir>', 'the directory "mcml render" wrote', 'out')
      .allowUnknownOption(false)
      .action(async (options: InfraCommandOptions) => {
        const { runInfra } = await import('./infra-run.js');
        await runInfra(action, options);
      });
  }
}
