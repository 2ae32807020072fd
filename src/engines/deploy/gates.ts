/**
 * The gates a target passes before the next wave: the health gate (every workload's pods of
 * the new revision ready, and the model answering a real inference on that target) and the
 * optional metric gate (a PromQL expression against a Prometheus server).
 */
import type { ApplySetRef, Cluster, RolloutStatus } from '../../ports/cluster.js';
import { inferenceBody, modelInputOf } from './inference.js';

export interface GateResult {
  gate: 'health' | 'metric';
  ok: boolean;
  message: string;
}

/** Where the model answers on a target: a service of the set and the model's name. */
export interface InferenceProbe {
  namespace: string;
  service: string;
  port: number | string;
  model: string;
}

/** A metric gate for one target. */
export type MetricGate = (target: string, signal: AbortSignal) => Promise<GateResult>;

/**
 * Pods ready, then one inference through the cluster. `known` is a status the caller has just
 * read (the rollout wait's last one): the gate then does not read it again.
 */
export async function healthGate(
  cluster: Cluster,
  set: ApplySetRef,
  probe: InferenceProbe | undefined,
  known?: RolloutStatus,
): Promise<GateResult> {
  const status: RolloutStatus = known ?? (await cluster.rolloutStatus(set));
  const unready = status.workloads.filter((w) => w.ready < w.desired || w.updated < w.desired);
  if (unready.length > 0) {
    return {
      gate: 'health',
      ok: false,
      message: unready
        .map((w) => `${w.ref.name}: ${w.ready}/${w.desired} ready, ${w.updated} updated`)
        .join('; '),
    };
  }
  const pods = status.workloads.reduce((a, w) => a + w.ready, 0);
  if (!probe) return { gate: 'health', ok: true, message: `${pods} pod(s) ready` };
  const base = { namespace: probe.namespace, service: probe.service, port: probe.port };
  const meta = await cluster.request({ ...base, method: 'GET', path: `/v2/models/${probe.model}` });
  const input = meta.status === 200 ? modelInputOf(parseJson(meta.body)) : undefined;
  if (!input) {
    return {
      gate: 'health',
      ok: false,
      message: `model ${probe.model} metadata: HTTP ${meta.status} ${meta.body.slice(0, 200)}`,
    };
  }
  const answer = await cluster.request({
    ...base,
    method: 'POST',
    path: `/v2/models/${probe.model}/infer`,
    body: JSON.stringify(inferenceBody(input, 0)),
  });
  const outputs = (parseJson(answer.body) as { outputs?: unknown[] } | undefined)?.outputs;
  if (answer.status !== 200 || !Array.isArray(outputs) || outputs.length === 0) {
    return {
      gate: 'health',
      ok: false,
      message: `inference on ${probe.model}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`,
    };
  }
  return {
    gate: 'health',
    ok: true,
    message: `${pods} pod(s) ready; model ${probe.model} answered an inference (${outputs.length} output${outputs.length === 1 ? '' : 's'})`,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

interface PromResponse {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/**
 * A PromQL gate: `$target` in the query becomes the target's name; it passes when the result
 * has at least one sample and none is 0 — so a comparison such as `… < 0.01` passes when it
 * holds (samples that fail a comparison are dropped), and `… < bool 0.01` when every sample is 1.
 */
export function prometheusGate(options: {
  url: string;
  query: string;
  timeoutMs?: number;
}): MetricGate {
  return async (target, signal) => {
    const query = options.query.replaceAll('$target', target);
    const url = `${options.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
    let body: PromResponse;
    try {
      const res = await fetch(url, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 10_000)]),
      });
      body = (await res.json()) as PromResponse;
    } catch (error) {
      if (signal.aborted) throw error;
      return {
        gate: 'metric',
        ok: false,
        message: `Prometheus at ${options.url} did not answer: ${(error as Error).message}`,
      };
    }
    if (body.status !== 'success') {
      return { gate: 'metric', ok: false, message: `${query}: ${body.error ?? 'query failed'}` };
    }
    const values = sampleValues(body.data);
    const ok = values.length > 0 && values.every((v) => v !== 0 && !Number.isNaN(v));
    return {
      gate: 'metric',
      ok,
      message: `${query} → ${values.length === 0 ? 'no samples (the condition does not hold)' : values.join(', ')}`,
    };
  };
}

function sampleValues(data: PromResponse['data']): number[] {
  if (data?.resultType === 'scalar') {
    const [, v] = data.result as [number, string];
    return [Number(v)];
  }
  if (data?.resultType === 'vector') {
    return (data.result as { value: [number, string] }[]).map((s) => Number(s.value[1]));
  }
  return [];
}
