/**
 * `mcml deploy rollback [TARGET…] [--to REV]`: the objects of an earlier recorded revision
 * applied again, exactly, on the targets named (default: every cloud target) — all at once by
 * default, or in waves — then the same rollout wait and gates as a deploy.
 */
import { McmlError } from '../../core/errors.js';
import { loadDeploySource, selectTargets, type DeploySourceOptions } from './deploy-targets.js';
import { rolloutOptions, runRollout, type RolloutFlags } from './deploy-run.js';

export interface RollbackCommandOptions extends DeploySourceOptions, RolloutFlags {
  to?: string;
}

export async function runRollbackCommand(
  names: string[],
  options: RollbackCommandOptions,
): Promise<void> {
  let to: number | undefined;
  if (options.to !== undefined) {
    to = Number(options.to);
    if (!Number.isInteger(to) || to < 1) {
      throw new McmlError(
        'USAGE',
        `--to must be a revision number (1, 2, …), got "${options.to}"`,
        {
          hint: 'mcml deploy status --json lists the recorded revisions of each target',
        },
      );
    }
  }
  const source = await loadDeploySource(undefined, options);
  const targets = selectTargets(source.targets, names);
  const engine = rolloutOptions(options, targets, { allAtOnce: true });
  await runRollout(
    targets,
    { ...engine, action: { kind: 'rollback', ...(to === undefined ? {} : { to }) } },
    options.json,
    'rollback',
  );
}
