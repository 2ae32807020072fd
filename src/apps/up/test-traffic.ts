/** The dashboard's "send test traffic": real inference requests through the front door. */
import { McmlError } from '../../core/errors.js';
import { inferenceBody, modelInputOf, type ModelInput } from '../../engines/deploy/index.js';
import type { TrafficResult } from '../dashboard/state.js';

/** A sender of `count` requests (8 at a time) to `model` behind `url`. */
export function trafficSender(
  url: string,
  model: string,
): (count: number) => Promise<TrafficResult> {
  let input: ModelInput | undefined;
  return async (count) => {
    input ??= await modelInput(url, model);
    const meta = input;
    const started = performance.now();
    const result: TrafficResult = { sent: count, ok: 0, failed: 0, byTarget: {}, ms: 0 };
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        try {
          const res = await fetch(`${url}/v2/models/${model}/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(inferenceBody(meta, i)),
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          if (res.ok) result.ok += 1;
          else result.failed += 1;
          const by = res.headers.get('x-mcml-target') ?? 'none';
          result.byTarget[by] = (result.byTarget[by] ?? 0) + 1;
        } catch {
          result.failed += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, count) }, worker));
    result.ms = Math.round(performance.now() - started);
    return result;
  };
}

async function modelInput(base: string, model: string): Promise<ModelInput> {
  const res = await fetch(`${base}/v2/models/${model}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) {
    throw new McmlError('UNAVAILABLE', `cannot read model metadata: HTTP ${res.status}`);
  }
  const input = modelInputOf(await res.json());
  if (!input) throw new McmlError('UNAVAILABLE', `model ${model} declares no input`);
  return input;
}
