import type { Command } from 'commander';
import type { RenderCommandOptions } from './render-run.js';

export function registerRender(program: Command): void {
  program
    .command('render')
    .description(
      'Write Terraform (EKS/GKE/AKS), Kubernetes manifests, Prometheus/Grafana config and DNS records from the plan',
    )
    .argument('[file]', 'spec file (default: mcml.yaml)')
    .option('-f, --file <file>', 'spec file (same as the argument)')
    .option('-o, --out <dir>', 'output directory', 'out')
    .option(
      '--force',
      'write even into a directory holding files mcml did not write (they are kept)',
    )
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .option('--plan <file>', 'use this plan JSON ("mcml plan --json") instead of planning')
    .option(
      '--identities <file>',
      'workload identities: the identities.json "mcml infra apply" writes (or "terraform -chdir=out/terraform/<cloud> output -json workload_identities")',
    )
    .action(async (file: string | undefined, options: RenderCommandOptions) => {
      const { runRender } = await import('./render-run.js');
      await runRender(file, options);
    });
}
