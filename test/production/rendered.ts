/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects parsed from YAML */
/** Renders specs with the real planner and catalog, and builds overlays with `kubectl kustomize`. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseSpec } from '../../src/core/spec/index.js';
import { planDocument } from '../../src/core/plan/planner.js';
import { render, type RenderOptions, type RenderResult } from '../../src/core/render/index.js';
import { catalogSync, REPO } from '../render/fixtures.js';

type Obj = Record<string, any>;

/** Renders examples/<name>/mcml.yaml, optionally edited, as `mcml render` would. */
export function renderExample(
  name: string,
  edit: (text: string) => string = (t) => t,
  options: RenderOptions = {},
): RenderResult {
  const file = `${REPO}examples/${name}/mcml.yaml`;
  const doc = parseSpec(edit(readFileSync(file, 'utf8')), `examples/${name}/mcml.yaml`);
  return render(doc.spec, planDocument(doc, catalogSync()), options);
}

/** The overlay directories of a render: `k8s/overlays/<target>`. */
export function overlays(files: Record<string, string>): string[] {
  return Object.keys(files)
    .filter((p) => /^k8s\/overlays\/[^/]+\/kustomization\.yaml$/.test(p))
    .map((p) => dirname(p))
    .sort();
}

/** `kubectl kustomize` of every overlay: overlay → objects. Fails with the install hint. */
export function buildOverlays(files: Record<string, string>): Record<string, Obj[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mcml-prod-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const out: Record<string, Obj[]> = {};
    for (const overlay of overlays(files)) {
      let text: string;
      try {
        text = execFileSync('kubectl', ['kustomize', join(dir, overlay)], { encoding: 'utf8' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new Error(
            'kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/), e.g. apt-get install -y kubectl',
          );
        }
        throw error;
      }
      out[overlay] = parseAllDocuments(text).map((d) => d.toJSON() as Obj);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
