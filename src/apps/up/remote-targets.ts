/** A target that does not run here must already answer at its endpoint. */
import { McmlError } from '../../core/errors.js';
import type { Placement } from '../../core/plan/types.js';
import type { Spec } from '../../core/spec/index.js';

/** A non-local target is served elsewhere: it needs an endpoint that answers. */
export async function checkRemoteTargets(spec: Spec, placements: Placement[]): Promise<void> {
  for (const p of placements) {
    if (p.provider === 'local') continue;
    const target = spec.targets.find((t) => t.name === p.target)!;
    if (!target.endpoint) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `target "${p.target}" runs on ${p.provider}, so mcml up cannot start it here, and it has no endpoint to route to`,
        {
          hint: `set targets[].endpoint to its service URL (deploy it with "mcml render"), or make it provider: local with emulates: ${p.cloud}`,
        },
      );
    }
    const probe = target.endpoint.replace(/\/+$/, '') + spec.service.healthPath;
    try {
      const res = await fetch(probe, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
    } catch (error) {
      throw new McmlError(
        'UNAVAILABLE',
        `target "${p.target}" endpoint ${target.endpoint} does not answer (${probe})`,
        {
          hint: 'check the endpoint, or remove the target from the spec',
          cause: error,
        },
      );
    }
  }
}
