/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON/YAML documents */
/**
 * The objects deploy applies for a target are what `kubectl kustomize` builds from the same
 * rendered files: checked for every overlay of the rendered examples and for a kustomization
 * that uses each supported feature (generator hash with escaped characters, patch merge order,
 * namespace, labels, images).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { render } from '../../src/core/render/index.js';
import { renderedDocuments } from '../../src/core/render/yaml-documents.js';
import { buildKustomization, targetObjects } from '../../src/engines/deploy/kustomize.js';
import { examplePlan, loadSpec, threeCloudsPlan } from '../render/fixtures.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function kubectlKustomize(files: Record<string, string>, dir: string): unknown[] {
  const root = mkdtempSync(join(tmpdir(), 'mcml-kustomize-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', join(root, dir)], { encoding: 'utf8' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/)');
    }
    throw error;
  }
  return parseAllDocuments(out).map((d) => d.toJS());
}

const key = (o: any) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
const sorted = (objects: any[]) => [...objects].sort((a, b) => (key(a) < key(b) ? -1 : 1));

describe('per-target objects', { timeout: 120_000 }, () => {
  const spec = loadSpec('three-clouds.yaml');
  const renders = {
    'fixture three-clouds': render(spec, threeCloudsPlan(spec), {
      identities: {
        'aws-primary': { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' } },
      },
    }).files,
    'example three-clouds': examplePlan('three-clouds').files,
    'example residency': examplePlan('residency').files,
  };

  for (const [name, files] of Object.entries(renders)) {
    it(`match kubectl kustomize for every overlay of the ${name} render`, () => {
      const overlays = Object.keys(files)
        .map((p) => /^k8s\/overlays\/([^/]+)\/kustomization\.yaml$/.exec(p)?.[1])
        .filter((t): t is string => t !== undefined);
      expect(overlays.length).toBeGreaterThan(0);
      for (const target of overlays) {
        const ours = targetObjects(files, target);
        expect(sorted(ours), target).toEqual(
          sorted(kubectlKustomize(files, `k8s/overlays/${target}`)),
        );
        expect(ours[0]!.kind).toBe('Namespace');
      }
    });
  }

  it('build from the documents the render remembers exactly what parsing its YAML gives', () => {
    for (const files of Object.values(renders)) {
      // Manifests and kustomizations are remembered; config files (the front door's) are not.
      const known = Object.entries(files).filter(
        ([p, text]) => /^k8s\/.*\.yaml$/.test(p) && renderedDocuments(text) !== undefined,
      );
      expect(known.map(([p]) => p)).toContain('k8s/base/deployment.yaml');
      expect(known.length).toBeGreaterThan(10);
      for (const [path, text] of known) {
        expect(renderedDocuments(text), path).toEqual(parseAllDocuments(text).map((d) => d.toJS()));
      }
    }
  });

  it('match kubectl kustomize on generators, patches, namespace, labels and images', () => {
    const files: Record<string, string> = {
      'base/kustomization.yaml':
        'resources: [d.yaml]\nnamespace: nsx\nconfigMapGenerator:\n- name: cfg\n  files: [a.txt, key=b.txt]\n  literals: [k=v]\n',
      'base/a.txt': 'hello <b> & "q"\n',
      'base/b.txt': 'second\n',
      'base/d.yaml': [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: d, labels: {x: y}}',
        'spec:',
        '  selector: {matchLabels: {x: y}}',
        '  template:',
        '    metadata: {labels: {x: y}}',
        '    spec:',
        '      containers:',
        '      - name: a',
        '        image: img:1',
        '        env: [{name: E1, value: "1"}, {name: E2, value: "2"}, {name: E3, value: "3"}]',
        '        envFrom: [{configMapRef: {name: cfg}}]',
        '        ports: [{containerPort: 80, name: http}]',
        '      - name: b',
        '        image: other@sha256:abc',
        '      volumes: [{name: c, configMap: {name: cfg}}]',
        '      tolerations: [{key: t1}]',
        '---',
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: orig}',
        '---',
        'apiVersion: v1',
        'kind: Service',
        'metadata: {name: s}',
        'spec: {selector: {x: y}, ports: [{port: 80}]}',
      ].join('\n'),
      'ov/kustomization.yaml': [
        'resources: [../base]',
        'labels:',
        '- pairs: {l1: v1}',
        '  includeTemplates: true',
        'commonLabels: {team: ml}',
        'commonAnnotations: {owner: me}',
        'images:',
        '- {name: img, newName: reg/img, newTag: "9"}',
        '- {name: other, newName: reg/other}',
        'patches:',
        '- path: p.yaml',
        '- patch: |',
        '    apiVersion: v1',
        '    kind: Service',
        '    metadata: {name: s}',
        '    spec: {type: LoadBalancer}',
      ].join('\n'),
      'ov/p.yaml': [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: d}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '      - name: c',
        '        image: new:1',
        '      - name: a',
        '        env: [{name: N1, value: n}, {name: E2, value: "22"}, {name: N2, value: n2}]',
        '      tolerations: [{key: t2}]',
      ].join('\n'),
    };
    expect(sorted(buildKustomization(files, 'ov'))).toEqual(sorted(kubectlKustomize(files, 'ov')));
  });

  it('refuses a kustomization field it does not build, by name', () => {
    const files = { 'x/kustomization.yaml': 'resources: []\nnamePrefix: p-\n' };
    expect(() => buildKustomization(files, 'x')).toThrow(/the field "namePrefix" is not supported/);
  });
});
