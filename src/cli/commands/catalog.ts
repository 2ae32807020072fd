import type { Command } from 'commander';
import type { CatalogGpusOptions, CatalogRegionsOptions } from './catalog-run.js';

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('Browse the price catalog');
  catalog
    .command('gpus')
    .description('GPU offerings side by side across clouds, cheapest first')
    .option('--cloud <cloud>', 'only this cloud: aws, gcp or azure')
    .option('--region <region>', 'only this region')
    .option('--gpu <name>', 'only this GPU model, e.g. V100, T4, A100 (or a cloud name)')
    .option('--json', 'print the offerings as JSON')
    .option('--all', 'include retired offerings (the planner never picks them)')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .action(async (options: CatalogGpusOptions) => {
      const { runCatalogGpus } = await import('./catalog-run.js');
      await runCatalogGpus(options);
    });
  catalog
    .command('regions')
    .description('Regions with their jurisdiction, continent and what they offer')
    .option('--cloud <cloud>', 'only this cloud: aws, gcp or azure')
    .option('--json', 'print the regions as JSON')
    .option('--catalog <dir>', 'price catalog directory (default: the one shipped with mcml)')
    .action(async (options: CatalogRegionsOptions) => {
      const { runCatalogRegions } = await import('./catalog-run.js');
      await runCatalogRegions(options);
    });
}
