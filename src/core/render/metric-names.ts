/**
 * The series mcml reads: what `mcml serve`, the failover controller and NVIDIA's DCGM exporter
 * export, the labels the global Prometheus adds, and how PromQL quotes a label value.
 */

/** Metric names exported by `mcml serve` (src/apps/serve/metrics.ts) and the failover controller. */
export const METRICS = {
  requests: 'mcml_http_requests_total',
  duration: 'mcml_http_request_duration_seconds',
  batchSize: 'mcml_inference_batch_size',
  inference: 'mcml_inference_duration_seconds',
  queueDepth: 'mcml_inference_queue_depth',
  serverReady: 'mcml_server_ready',
  targetUp: 'mcml_target_up',
  activeTarget: 'mcml_active_target',
  failovers: 'mcml_failovers_total',
  proxyRequests: 'mcml_proxy_requests_total',
} as const;

/** GPU series of NVIDIA's DCGM exporter (its default counters) that the rules and dashboard use. */
export const DCGM_METRICS = {
  utilization: 'DCGM_FI_DEV_GPU_UTIL',
  memoryUsed: 'DCGM_FI_DEV_FB_USED',
  memoryFree: 'DCGM_FI_DEV_FB_FREE',
  temperature: 'DCGM_FI_DEV_GPU_TEMP',
} as const;

/** Labels the global Prometheus gives a front door's series: the cluster it runs in. */
export const FRONT_DOOR_LABELS = { target: 'front_door', cloud: 'front_door_cloud' } as const;

/** A PromQL string literal. */
export function promString(text: string): string {
  return JSON.stringify(text);
}
