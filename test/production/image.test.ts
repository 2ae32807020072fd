/**
 * The image carries what GPU nodes need (no container engine here, so the Dockerfile is read,
 * not built): a CUDA 12 + cuDNN runtime base, onnxruntime's CUDA execution provider installed
 * during the build (and the build failing without it), node copied in, and the CLI as
 * ENTRYPOINT. scripts/gpu-smoke.sh runs the built image (or the checkout) on an NVIDIA GPU.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../render/fixtures.js';
import { readImageConfig, readStages } from './kubelet.js';

const DOCKERFILE = join(REPO, 'Dockerfile');

describe('the mcml image', () => {
  const stages = readStages(DOCKERFILE);
  const final = stages.at(-1)!;
  const build = stages.find((s) => s.name === 'build')!;
  const runs = (stage: typeof build) =>
    stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.rest);

  it('runs on a CUDA 12 runtime image with cuDNN', () => {
    expect(final.from).toMatch(/^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn-runtime-ubuntu\d+\.\d+$/);
    const copies = final.instructions.filter((i) => i.op === 'COPY').map((i) => i.rest);
    expect(copies).toContain('--from=node /usr/local/bin/node /usr/local/bin/node');
    expect(copies).toContain('--from=build /app/node_modules ./node_modules');
  });

  it("installs onnxruntime's CUDA provider in the build and fails the build without it", () => {
    const install = runs(build).find((r) => r.includes('onnxruntime-node/script/install.js'));
    expect(install).toBeDefined();
    expect(install).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(install).toMatch(/test -f \S*libonnxruntime_providers_cuda\.so/);
    expect(install).toMatch(/test -f \S*libonnxruntime_providers_shared\.so/);
    // The install runs before the production prune, on the node_modules the final stage copies.
    const all = runs(build);
    expect(all.indexOf(install!)).toBeLessThan(all.findIndex((r) => r.includes('npm prune')));
  });

  it('exposes the GPUs to the process and runs the CLI as a numeric user', () => {
    const image = readImageConfig(DOCKERFILE);
    expect(image.env.NVIDIA_VISIBLE_DEVICES).toBe('all');
    expect(image.env.NVIDIA_DRIVER_CAPABILITIES).toMatch(/compute/);
    expect(image.entrypoint).toEqual(['node', 'bin/mcml']);
    expect(image.cmd).toEqual(['serve']);
    expect(image.user).toMatch(/^\d+:\d+$/);
  });
});
