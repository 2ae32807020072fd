/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects parsed from YAML */
/**
 * Pod admission rules a kubelet (or the API server) enforces, on every pod template of every
 * rendered overlay: runAsNonRoot against the image's user, requests against limits, GPU
 * (extended resource) limits, volume mounts. The mcml image's USER comes from the Dockerfile;
 * other images must say their user in the pod.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { render } from '../../src/core/render/index.js';
import { IMAGE_UID } from '../../src/core/render/kubernetes.js';
import { loadSpec, REPO, threeCloudsPlan } from '../render/fixtures.js';
import { admissionProblems, podTemplates, readImageConfig } from './kubelet.js';
import { buildOverlays, renderExample } from './rendered.js';

type Obj = Record<string, any>;

const image = readImageConfig(join(REPO, 'Dockerfile'));
const MCML_IMAGE = /^ghcr\.io\/mcml-dev\/mcml[:@]/;
const userOf = (user: string | undefined) => (img: string) =>
  MCML_IMAGE.test(img) ? user : undefined;

function renders(): [string, Record<string, string>][] {
  const spec = loadSpec('three-clouds.yaml');
  return [
    ['example three-clouds', renderExample('three-clouds').files],
    ['example residency', renderExample('residency').files],
    ['fixture three-clouds', render(spec, threeCloudsPlan(spec)).files],
  ];
}

describe('pod admission', { timeout: 120_000 }, () => {
  const built = renders().map(([name, files]) => [name, buildOverlays(files)] as const);

  it('the image runs as a numeric non-root user, the one the pods name', () => {
    expect(image.user).toMatch(/^\d+:\d+$/);
    expect(Number(image.user!.split(':')[0])).toBe(IMAGE_UID);
  });

  it.each(renders().map(([n]) => n))('%s: every overlay passes admission', (name) => {
    const overlays = built.find(([n]) => n === name)![1];
    for (const [overlay, objects] of Object.entries(overlays)) {
      const pods = podTemplates(objects);
      // The front door runs in every cluster too, and is checked like the service.
      expect(pods.map((p) => p.where)).toEqual(
        expect.arrayContaining(['Deployment/ml-inference', 'Deployment/mcml-front-door']),
      );
      for (const { where, pod } of pods) {
        expect(admissionProblems(`${overlay} ${where}`, pod, userOf(image.user))).toEqual([]);
      }
    }
  });

  it('the checks refuse what a kubelet refuses', () => {
    const [, overlays] = built[0]!;
    const objects = Object.values(overlays)[0]!;
    const deployment = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'ml-inference',
    )!;
    const pod = structuredClone(deployment.spec.template.spec) as Obj;
    delete pod.securityContext.runAsUser;
    // The image's user as a name: the kubelet cannot verify it is not root.
    expect(admissionProblems('x', pod, userOf('node')).join('\n')).toMatch(
      /runAsNonRoot and image has non-numeric user \(node\)/,
    );
    expect(admissionProblems('x', pod, userOf('0')).join('\n')).toMatch(/uid 0/);
    const server = pod.containers[0];
    server.resources.requests['nvidia.com/gpu'] = '1';
    server.resources.limits['nvidia.com/gpu'] = '2';
    server.resources.requests.memory = '64Gi';
    server.volumeMounts.push({ name: 'nope', mountPath: '/x' });
    const problems = admissionProblems('x', pod, userOf('10001:10001')).join('\n');
    expect(problems).toMatch(/nvidia\.com\/gpu request 1 must equal its limit 2/);
    expect(problems).toMatch(/memory request 64Gi is above its limit/);
    expect(problems).toMatch(/mounts unknown volume nope/);
  });
});
