import { homedir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { McmlError } from '../../core/errors.js';
import { durationMs } from '../../core/spec/parse.js';
import {
  DEVICES,
  labelsFromEnv,
  modelFromEnv,
  parseModelSpec,
  startServer,
  type Device,
  type ModelSpec,
} from '../../apps/serve/index.js';
import { VERSION } from '../version.js';

type RawOptions = Record<string, string | string[] | undefined>;

function integer(flag: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new McmlError(
      'USAGE',
      `${flag} must be an integer from ${min} to ${max}, got "${String(value)}"`,
    );
  }
  return n;
}

/** Bytes from "16mb", "512kb", "1mib", "1048576". */
export function parseSize(flag: string, value: unknown): number {
  const m =
    typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?$/i.exec(value.trim()) : null;
  if (!m)
    throw new McmlError(
      'USAGE',
      `${flag} must be a size such as 16mb or 1048576, got "${String(value)}"`,
    );
  const unit = (m[2] ?? 'b').toLowerCase().replace(/i?b$/, '') || 'b';
  const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit as 'b' | 'k' | 'm' | 'g'];
  const bytes = Math.floor(Number(m[1]) * factor);
  if (bytes < 1) throw new McmlError('USAGE', `${flag} must be at least 1 byte`);
  return bytes;
}

function duration(flag: string, value: unknown): number {
  const text = String(value).trim();
  try {
    return /^\d+$/.test(text) ? Number(text) : durationMs(text);
  } catch {
    throw new McmlError('USAGE', `${flag} must be a duration such as 10s or 500ms, got "${text}"`);
  }
}

function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mcml', 'models');
}

export async function runServe(raw: RawOptions): Promise<void> {
  const given = (raw.model as string[] | undefined) ?? [];
  const models: ModelSpec[] = given.map((m) => parseModelSpec(m));
  if (models.length === 0) {
    const fromEnv = modelFromEnv(process.env);
    if (fromEnv) models.push(fromEnv);
  }
  if (models.length === 0) {
    throw new McmlError('USAGE', 'no model to serve', {
      hint: 'pass --model NAME=PATH (repeatable), or set MODEL_PATH (and MODEL_NAME)',
    });
  }
  const device = String(raw.device) as Device;
  if (!DEVICES.includes(device)) {
    throw new McmlError('USAGE', `--device must be ${DEVICES.join(', ')}, got "${device}"`, {
      hint: 'cuda fails loudly when the CUDA provider cannot load; auto falls back to cpu',
    });
  }
  const level = String(raw.logLevel);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new McmlError(
      'USAGE',
      `--log-level must be one of fatal, error, warn, info, debug, trace, silent`,
    );
  }
  const logger = pino({ level, base: { service: 'mcml-serve' } });
  const server = await startServer({
    models,
    host: String(raw.host),
    port: integer('--port', raw.port, 0, 65535),
    maxBatch: integer('--max-batch', raw.maxBatch, 1, 4096),
    batchDelayMs: integer('--batch-delay-ms', raw.batchDelayMs, 0, 10_000),
    maxQueue: integer('--max-queue', raw.maxQueue, 1),
    maxBodyBytes: parseSize('--max-body', raw.maxBody),
    drainTimeoutMs: duration('--drain-timeout', raw.drainTimeout),
    ...(raw.threads === 'auto'
      ? {}
      : { intraOpThreads: integer('--threads', raw.threads, 0, 256) }),
    device,
    cacheDir: typeof raw.cacheDir === 'string' ? raw.cacheDir : defaultCacheDir(),
    // s3:// gs:// az:// models go through the storage layer (SDKs load only when used).
    resolveStore: async (uri) => {
      const { openStore } = await import('../../adapters/storage.js');
      return openStore(uri);
    },
    labels: labelsFromEnv(process.env),
    logger,
    version: VERSION,
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  await server.close();
}
