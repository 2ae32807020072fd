import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressMeter, progressLine, startProgress } from './data-progress.js';

const MIB = 1024 * 1024;

describe('sync progress', () => {
  it('reports bytes, a rate over the recent window and the ETA', () => {
    let t = 0;
    const m = new ProgressMeter(() => t, 10_000);
    m.onEvent({ type: 'planned', objects: 1, bytes: 2048 * MIB, copies: 1, deletes: 0 });
    t = 4000;
    m.onEvent({ type: 'bytes', bytes: 400 * MIB });
    expect(m.snapshot()).toMatchObject({ bytes: 400 * MIB, rate: 100 * MIB, etaSeconds: 16 });
    // A fast phase after the window forgot the start: the rate follows it.
    t = 20_000;
    m.onEvent({ type: 'bytes', bytes: 800 * MIB });
    m.snapshot(); // the display ticks take samples
    t = 24_000;
    m.onEvent({ type: 'bytes', bytes: 800 * MIB });
    const p = m.snapshot();
    expect(p.rate).toBeGreaterThan(100 * MIB);
    expect(p.etaSeconds).toBeLessThan(2);
    expect(progressLine(p)).toMatch(
      /^2\.0 GiB \/ 2\.0 GiB \(\d+%\) · 0\/1 objects · .* MiB\/s · ETA 0m0\ds$/,
    );
  });

  it('with --json writes one JSON line per tick to a non-terminal, nothing when disabled', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const p = startProgress({
      enabled: true,
      json: true,
      stream: out as unknown as NodeJS.WriteStream,
      intervalMs: 10,
    });
    p.onEvent({ type: 'planned', objects: 2, bytes: 100, copies: 2, deletes: 0 });
    p.onEvent({ type: 'bytes', bytes: 50 });
    await new Promise((r) => setTimeout(r, 50));
    p.stop();
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatchObject({
      type: 'progress',
      bytes: 50,
      totalBytes: 100,
      totalObjects: 2,
    });
    const off = startProgress({
      enabled: false,
      json: true,
      stream: out as unknown as NodeJS.WriteStream,
    });
    off.stop();
  });
});
