/**
 * `mcml deploy --timeout`'s default: a rollout is waited for a minute longer than the cluster's
 * own progress deadline for the rendered Deployment (which grows with the model's cacheSize),
 * so a large model still downloading is not given up on, and the cluster's verdict
 * (ProgressDeadlineExceeded) comes first.
 */
import { describe, expect, it } from 'vitest';
import { rolloutOptions } from '../../src/cli/commands/deploy-run.js';
import type { DeployTarget } from '../../src/engines/deploy/rollout.js';

const target = (name: string, progressDeadlineSeconds?: number): DeployTarget =>
  ({
    name,
    tier: 0,
    set: {
      objects: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} },
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'd' },
          spec: progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds },
        },
      ],
    },
  }) as unknown as DeployTarget;

describe('mcml deploy --timeout', () => {
  it('defaults to the longest progress deadline + 1 min, and never below 10 min', () => {
    expect(rolloutOptions({}, [target('a', 2120), target('b', 720)]).rolloutTimeoutMs).toBe(
      2180_000,
    );
    expect(rolloutOptions({}, [target('a', 300), target('b')]).rolloutTimeoutMs).toBe(600_000);
  });

  it('takes the flag when given', () => {
    expect(rolloutOptions({ timeout: '90s' }, [target('a', 2120)]).rolloutTimeoutMs).toBe(90_000);
    expect(() => rolloutOptions({ timeout: 'soon' }, [target('a')])).toThrow(
      /--timeout must be a duration such as 90s, 10m or 1h, got "soon"/,
    );
  });
});
