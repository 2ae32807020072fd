import { GPU_MODELS, type GpuModel } from '../spec/schema.js';

/** Cloud accelerator names that do not reduce to a canonical model by prefix stripping. */
const ALIASES: Record<string, GpuModel> = {
  'A100-40GB': 'A100',
  'H100-80GB': 'H100',
  'H100-MEGA-80GB': 'H100',
  'A10-24GB': 'A10',
};

/**
 * The canonical model (as in GPU_MODELS) for a cloud's accelerator name:
 * "nvidia-tesla-v100" → "V100", "nvidia-a100-80gb" → "A100-80GB", "A10G" → "A10G".
 */
export function canonicalGpu(cloudName: string): GpuModel | undefined {
  const name = cloudName
    .trim()
    .toUpperCase()
    .replace(/^NVIDIA[- ]/, '')
    .replace(/^TESLA[- ]/, '');
  if ((GPU_MODELS as readonly string[]).includes(name)) return name as GpuModel;
  return ALIASES[name];
}

/**
 * GCP: the most host vCPUs per attached GPU of a model (N1 machine limits from GCP's GPU
 * documentation, rounded down to the per-GPU ratio).
 */
export const GCP_MAX_VCPUS_PER_GPU: Partial<Record<GpuModel, number>> = {
  V100: 12,
  P100: 16,
  P4: 24,
  T4: 24,
  K80: 8,
};
