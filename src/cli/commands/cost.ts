import type { Command } from 'commander';
import type {
  CostImportFlags,
  CostPullFlags,
  CostReportFlags,
  CostSourcesFlags,
} from './cost-run.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerCost(program: Command): void {
  const cost = program
    .command('cost')
    .description(
      'What the deployment cost, per cloud, against the plan: FOCUS exports and cost APIs in one store',
    );
  registerCostImport(cost);
  registerCostPull(cost);
  registerCostReport(cost);
  registerCostSources(cost);
}

function registerCostImport(cost: Command): void {
  cost
    .command('import')
    .description(
      'Import FOCUS 1.0–1.3 exports (CSV, .csv.gz, Parquet): files, folders or s3:// gs:// az:// prefixes',
    )
    .argument('<sources...>', 'files, folders or bucket prefixes')
    .option('-f, --file <spec>', 'spec file: the store lives in .mcml/ beside it')
    .option('--store <path>', 'cost store file (default: .mcml/cost.duckdb)')
    .option('--json', 'print a JSON report on stdout')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .action(async (sources: string[], flags: CostImportFlags) => {
      const { runCostImport } = await import('./cost-run.js');
      await runCostImport(sources, flags);
    });
}

function registerCostPull(cost: Command): void {
  cost
    .command('pull')
    .description(
      "Pull daily costs from each cloud's cost API (Cost Explorer, Cost Management, BigQuery FOCUS export)",
    )
    .option('-f, --file <spec>', 'spec file (default: mcml.yaml)')
    .option('--from <day>', 'first day, YYYY-MM-DD (default: the month so far)')
    .option('--to <day>', 'last day, included (default: today)')
    .option('--cloud <cloud>', 'only this cloud: aws, gcp or azure (repeatable)', collect)
    .option('--attribution <mode>', "tags, accounts or all (default: the spec's cost.attribution)")
    .option('--store <path>', 'cost store file (default: .mcml/cost.duckdb beside the spec)')
    .option('--json', 'print a JSON report on stdout')
    .action(async (flags: CostPullFlags) => {
      const { runCostPull } = await import('./cost-run.js');
      await runCostPull(flags);
    });
}

function registerCostReport(cost: Command): void {
  cost
    .command('report')
    .description(
      'Billed and effective cost per cloud beside the plan, drift, cheapest cloud, budget burn, anomalies',
    )
    .option('-f, --file <spec>', 'spec file (default: mcml.yaml)')
    .option('--from <day>', 'first day, YYYY-MM-DD (default: the month so far)')
    .option('--to <day>', 'last day, included (default: today)')
    .option('--by <group>', 'also group by: cloud, target, service or day', 'cloud')
    .option('--attribution <mode>', "tags, accounts or all (default: the spec's cost.attribution)")
    .option(
      '--requests <count>',
      'inferences served in the range: N, CLOUD=N or TARGET=N (repeatable), for cost per 1,000',
      collect,
    )
    .option('--pull', 'pull the cost APIs first (clouds that refuse are marked incomplete)')
    .option('--json', 'print the report as JSON')
    .option('--csv', 'print the report as CSV')
    .option('--store <path>', 'cost store file (default: .mcml/cost.duckdb beside the spec)')
    .option('--catalog <dir>', 'price catalog directory for the estimate')
    .action(async (flags: CostReportFlags) => {
      const { runCostReport } = await import('./cost-run.js');
      await runCostReport(flags);
    });
}

function registerCostSources(cost: Command): void {
  cost
    .command('sources')
    .description('List what the cost store holds: each import and pull')
    .option('-f, --file <spec>', 'spec file: the store lives in .mcml/ beside it')
    .option('--store <path>', 'cost store file (default: .mcml/cost.duckdb)')
    .option('--json', 'print JSON')
    .action(async (flags: CostSourcesFlags) => {
      const { runCostSources } = await import('./cost-run.js');
      await runCostSources(flags);
    });
}
