/**
 * `mcml serve --device`: cuda fails loudly when the CUDA execution provider cannot load (this
 * machine has no GPU and the npm install skips the provider), auto falls back to the CPU and
 * says why, and /metrics and the "ready" line say which device runs. The GPU path itself is
 * checked by scripts/gpu-smoke.sh on a machine with an NVIDIA GPU.
 */
import { describe, expect, it } from 'vitest';
import { IRIS, serveFails, spawnServe } from '../serve/spawn.js';

describe('mcml serve --device', { timeout: 120_000 }, () => {
  it('cuda without a loadable CUDA provider: exit 1, says so and how to fall back', async () => {
    const r = await serveFails(['--model', `iris=${IRIS}`, '--device', 'cuda']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--device cuda: the CUDA execution provider cannot load/);
    expect(r.stderr).toMatch(/--device auto/);
    expect(r.stderr).not.toMatch(/not a valid ONNX model/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('auto falls back to the CPU, logs why, and /metrics and the ready line say cpu', async () => {
    const s = await spawnServe(['--model', `iris=${IRIS}`, '--device', 'auto']);
    try {
      const ready = await s.waitForLog('ready');
      expect(ready.devices).toEqual({ iris: 'cpu' });
      const warn = await s.waitForLog(
        'the requested execution provider is unavailable; running on the CPU',
      );
      expect(String(warn.reason)).toMatch(/Cuda|CUDA|shared library/);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(
        /^mcml_inference_device_info\{model="iris",device="cpu",requested="auto"[^}]*\} 1$/m,
      );
    } finally {
      await s.stop();
    }
  });

  it('cpu: the device metric says cpu; an unknown device is a usage error (exit 2)', async () => {
    const s = await spawnServe(['--model', `iris=${IRIS}`]);
    try {
      expect((await s.waitForLog('ready')).devices).toEqual({ iris: 'cpu' });
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(
        /mcml_inference_device_info\{model="iris",device="cpu",requested="cpu"/,
      );
    } finally {
      await s.stop();
    }
    const bad = await serveFails(['--model', `iris=${IRIS}`, '--device', 'gpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--device must be cpu, cuda, auto/);
  });
});
