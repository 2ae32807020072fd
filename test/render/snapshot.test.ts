/**
 * Snapshots of everything render writes for the examples (real planner and catalog) and for a
 * hand-built plan. A deliberate change to the renderers, the examples, the catalog or the
 * planner changes them: review the diff, then update with
 *   npx vitest run test/render/snapshot.test.ts -u
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { render, type RenderResult } from '../../src/core/render/index.js';
import { examplePlan, FIXTURES, loadSpec, threeCloudsPlan } from './fixtures.js';

/** All files of a render as one reviewable text. */
function bundle(result: RenderResult): string {
  return Object.entries(result.files)
    .map(([path, content]) => `=== ${path}\n${content}`)
    .join('\n');
}

/**
 * The snapshot file must exist: Vitest writes a missing one and passes (outside CI), which
 * would hide a deleted or renamed snapshot. Only an explicit update (-u) may create it.
 */
function snapshotFile(path: string): string {
  const state = expect.getState().snapshotState as unknown as { _updateSnapshot?: string };
  if (!existsSync(path) && state._updateSnapshot !== 'all') {
    throw new Error(
      `missing snapshot ${path}: review the render, then write it with npx vitest run test/render/snapshot.test.ts -u`,
    );
  }
  return path;
}

/** Paths whose content differs between two renders (including added and removed files). */
function changed(a: RenderResult, b: RenderResult): string[] {
  const paths = new Set([...Object.keys(a.files), ...Object.keys(b.files)]);
  return [...paths].filter((p) => a.files[p] !== b.files[p]).sort();
}

describe('render snapshots', { timeout: 120_000 }, () => {
  it.each(['three-clouds', 'residency'])('example %s matches its snapshot', async (name) => {
    await expect(bundle(examplePlan(name))).toMatchFileSnapshot(
      snapshotFile(`${FIXTURES}__snapshots__/example-${name}.txt`),
    );
  });

  it('the hand-built three-cloud plan matches its snapshot', async () => {
    const spec = loadSpec('three-clouds.yaml');
    await expect(bundle(render(spec, threeCloudsPlan(spec)))).toMatchFileSnapshot(
      snapshotFile(`${FIXTURES}__snapshots__/fixture-three-clouds.txt`),
    );
  });

  it('is deterministic: the same spec and plan give byte-identical files', () => {
    const spec = loadSpec('three-clouds.yaml');
    const a = render(spec, threeCloudsPlan(spec));
    const b = render(loadSpec('three-clouds.yaml'), threeCloudsPlan(loadSpec('three-clouds.yaml')));
    expect(b.files).toEqual(a.files);
    expect(bundle(examplePlan('three-clouds'))).toBe(bundle(examplePlan('three-clouds')));
  });
});

describe('a spec change touches only the files it should', () => {
  const base = () => {
    const spec = loadSpec('three-clouds.yaml');
    return render(spec, threeCloudsPlan(spec));
  };
  const edited = (from: string, to: string) => {
    const spec = loadSpec('three-clouds.yaml', (text) => {
      expect(text).toContain(from);
      return text.replace(from, to);
    });
    return render(spec, threeCloudsPlan(spec));
  };

  it('monitoring.alerts.p99LatencyMs changes only rules.yml', () => {
    expect(changed(base(), edited('p99LatencyMs: 500', 'p99LatencyMs: 250'))).toEqual([
      'monitoring/rules.yml',
    ]);
  });

  it('monitoring.alerts.errorRatio changes only rules.yml', () => {
    expect(changed(base(), edited('errorRatio: 0.05', 'errorRatio: 0.01'))).toEqual([
      'monitoring/rules.yml',
    ]);
  });

  it("a target env override changes only that overlay's deployment patch", () => {
    expect(changed(base(), edited('LOG_LEVEL: debug', 'LOG_LEVEL: warn'))).toEqual([
      'k8s/overlays/azure-tertiary/deployment-patch.yaml',
    ]);
  });

  it('the HPA CPU target changes only the base HPA', () => {
    expect(changed(base(), edited('targetCpuUtilization: 70', 'targetCpuUtilization: 60'))).toEqual(
      ['k8s/base/hpa.yaml'],
    );
  });

  it('the DNS TTL changes only the dns root (front doors: their addresses come after deploy)', () => {
    expect(changed(base(), edited('ttl: 30', 'ttl: 20'))).toEqual(['terraform/dns/main.tf']);
  });

  it('without a front door (dns mode) the DNS TTL changes the change batch and the dns root', () => {
    const direct = (ttl: string) => {
      const spec = loadSpec('three-clouds.yaml', (text) =>
        text.replace('mode: both', 'mode: dns').replace('ttl: 30', ttl),
      );
      return render(spec, threeCloudsPlan(spec));
    };
    expect(changed(direct('ttl: 30'), direct('ttl: 20'))).toEqual([
      'dns/route53-change-batch.json',
      'terraform/dns/main.tf',
    ]);
  });
});
