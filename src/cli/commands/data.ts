import type { Command } from 'commander';
import type { DataSyncFlags, DataVerifyFlags } from './data-run.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('Replicate and check models and data sets across S3, GCS, Azure Blob and disk');
  data
    .command('sync')
    .description(
      'Copy what changed from SRC to every DST (read once, verified by sha256), or every data set of a spec with -f',
    )
    .argument(
      '[src]',
      'source: s3://bucket/prefix, gs://…, az://account/container/…, file:// or a path',
    )
    .argument('[dst...]', 'one or more destinations')
    .option('-f, --file <spec>', 'replicate the data sets of this spec to their allowed targets')
    .option('--dataset <name>', 'with -f: only this data set')
    .option('--transfers <n>', 'objects in flight', '16')
    .option(
      '--download-streams <n>',
      'ranged GETs in flight per large source object (1: one stream; 4 suits real clouds)',
      '1',
    )
    .option('--dry-run', 'show what would be copied and deleted, change nothing')
    .option('--delete', 'delete destination objects that are not in the source')
    .option('--max-delete <n>', 'refuse --delete when more than N objects would go', '1000')
    .option('--include <glob>', 'only keys matching (repeatable)', collect)
    .option('--exclude <glob>', 'skip keys matching (repeatable)', collect)
    .option('--server-side', 'let Azure destinations fetch from presigned S3/GCS URLs')
    .option('--json', 'print a JSON report on stdout')
    .option('--no-progress', 'no progress bar, even on a terminal')
    .option(
      '--jurisdiction <j>',
      "the data's jurisdiction (e.g. eu): refuse any destination the cloud reports outside it",
    )
    .option('--catalog <dir>', 'catalog directory (region → jurisdiction)')
    .action(async (src: string | undefined, dst: string[], flags: DataSyncFlags) => {
      const { runDataSyncCommand } = await import('./data-run.js');
      await runDataSyncCommand(src, dst, flags);
    });
  data
    .command('verify')
    .description('Compare SRC and DST like rclone check: missing, different and extra objects')
    .argument('<src>')
    .argument('<dst>')
    .option('--include <glob>', 'only keys matching (repeatable)', collect)
    .option('--exclude <glob>', 'skip keys matching (repeatable)', collect)
    .option('--json', 'print a JSON report on stdout')
    .action(async (src: string, dst: string, flags: DataVerifyFlags) => {
      const { runDataVerifyCommand } = await import('./data-run.js');
      await runDataVerifyCommand(src, dst, flags);
    });
}
