import type { Command } from 'commander';
import type { PlanCommandOptions } from './plan-run.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description(
      'Place the service: cloud, region, instance, GPU, spot, tier and cost per target, with a per-cloud comparison',
    )
    .argument('[file]', 'spec file (default: mcml.yaml)')
    .option('-f, --file <file>', 'spec file (same as the argument)')
    .option('--json', 'print the plan as JSON (docs/plan-json.md)')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .action(async (file: string | undefined, options: PlanCommandOptions) => {
      const { runPlan } = await import('./plan-run.js');
      await runPlan(file, options);
    });
}
