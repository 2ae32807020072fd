import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultHashIndexDir } from '../../adapters/local/hash-index.js';
import { McmlError } from '../../core/errors.js';
import { MAX_TIMER_MS, parseDuration } from '../../core/spec/duration.js';
import {
  DEVICES,
  labelsFromEnv,
  modelFromEnv,
  parseModelSpec,
  startServer,
  type Device,
  type ModelSpec,
  type ServeOptions,
} from '../../apps/serve/index.js';
import { VERSION } from '../version.js';

type RawOptions = Record<string, string | string[] | undefined>;
type RawValue = RawOptions[string];

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

/** Largest --max-body: request bodies are held in memory, and JSON ones parsed as one string. */
const MAX_BODY_LIMIT = 1024 ** 3;

/**
 * The interface to listen on: an IP address (IPv6 with or without brackets) or a host name.
 * Malformed addresses are refused here, with exit code 2, before anything is loaded.
 */
export function parseHost(flag: string, value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  const unbracketed = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  if (isIP(unbracketed) !== 0) return unbracketed;
  const fix =
    'use an IP address of this machine (0.0.0.0 for every interface, 127.0.0.1 for this machine only) or a host name';
  if (text === '') throw new McmlError('USAGE', `${flag} is empty`, { hint: fix });
  if (/^[\d.]+$/.test(text) || text.includes(':')) {
    throw new McmlError(
      'USAGE',
      `${flag} ${JSON.stringify(text)} is not a valid IP${text.includes(':') ? 'v6' : 'v4'} address`,
      { hint: fix },
    );
  }
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
  if (
    text.length > 253 ||
    !text
      .replace(/\.$/, '')
      .split('.')
      .every((l) => label.test(l))
  ) {
    throw new McmlError('USAGE', `${flag} ${JSON.stringify(text)} is not a valid host name`, {
      hint: fix,
    });
  }
  return text;
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
  if (bytes > MAX_BODY_LIMIT) {
    throw new McmlError('USAGE', `${flag} must be at most 1gb, got "${String(value)}"`, {
      hint: 'requests are held in memory whole; send large inputs in several requests',
    });
  }
  return bytes;
}

/**
 * Milliseconds from "10s", "500ms", "2m" or a bare number of milliseconds, at most what a
 * Node.js timer holds (2^31 - 1 ms, about 24.8 days).
 */
export function durationFlag(flag: string, value: unknown): number {
  const text = String(value).trim();
  const ms = /^\d+$/.test(text) ? Number(text) : parseDuration(text);
  if (ms === undefined) {
    throw new McmlError('USAGE', `${flag} must be a duration such as 10s or 500ms, got "${text}"`);
  }
  if (ms > MAX_TIMER_MS) {
    throw new McmlError('USAGE', `${flag} must be at most 24d (596h), got "${text}"`);
  }
  return Math.round(ms);
}

function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mcml', 'models');
}

/** The inference token from the variable `--auth-token-env` names (never the token itself). */
function authTokenFrom(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const variable = name;
  const token = process.env[variable]?.trim();
  if (token === undefined || token === '') {
    throw new McmlError('USAGE', `--auth-token-env ${variable}: the variable is not set`, {
      hint: `set ${variable} to the bearer token clients send (in Kubernetes: from the Secret the render names), or leave the flag out for open inference`,
    });
  }
  if (token.length < 16) {
    throw new McmlError(
      'USAGE',
      `--auth-token-env ${variable}: the token is shorter than 16 characters`,
      {
        hint: 'use a random token, e.g. openssl rand -hex 32',
      },
    );
  }
  return token;
}

export async function runServe(raw: RawOptions): Promise<void> {
  const models = modelsToServe(raw.model as string[] | undefined);
  const device = deviceFlag(raw.device);
  const logger = pino({ level: logLevelFlag(raw.logLevel), base: { service: 'mcml-serve' } });
  const cacheDir = cacheDirFlag(raw.cacheDir);
  const server = await startServer({
    authToken: authTokenFrom(raw.authTokenEnv),
    models,
    ...servingLimits(raw),
    device,
    cacheDir,
    // A restart stats each model file instead of reading it again (MCML_HASH_INDEX_DIR).
    hashIndexDir: defaultHashIndexDir(process.env),
    downloadStreams: integer('--download-streams', raw.downloadStreams ?? '1', 1, 64),
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

/** The --model flags, else the model MODEL_PATH names; at least one. */
function modelsToServe(given: string[] = []): ModelSpec[] {
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
  return models;
}

function deviceFlag(value: RawValue): Device {
  const device = String(value) as Device;
  if (!DEVICES.includes(device)) {
    throw new McmlError('USAGE', `--device must be ${DEVICES.join(', ')}, got "${device}"`, {
      hint: 'cuda fails loudly when the CUDA provider cannot load; auto falls back to cpu',
    });
  }
  return device;
}

function logLevelFlag(value: RawValue): string {
  const level = String(value);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new McmlError(
      'USAGE',
      `--log-level must be one of fatal, error, warn, info, debug, trace, silent`,
    );
  }
  return level;
}

/** --cache-dir, else ~/.cache/mcml/models (under $XDG_CACHE_HOME when set). */
function cacheDirFlag(value: RawValue): string {
  if (value !== undefined && String(value).trim() === '') {
    throw new McmlError('USAGE', '--cache-dir is empty', {
      hint: 'give a directory, or leave the flag out for ~/.cache/mcml/models',
    });
  }
  return typeof value === 'string' ? value : defaultCacheDir();
}

/** Where the server listens and how much it takes on: the numeric flags, checked in order. */
function servingLimits(
  raw: RawOptions,
): Pick<
  ServeOptions,
  | 'host'
  | 'port'
  | 'maxBatch'
  | 'batchDelayMs'
  | 'maxQueue'
  | 'maxBodyBytes'
  | 'drainTimeoutMs'
  | 'intraOpThreads'
> {
  return {
    host: parseHost('--host', raw.host),
    // The default comes from $PORT: say so when that is what is wrong.
    port: integer(raw.port === process.env.PORT ? '--port ($PORT)' : '--port', raw.port, 0, 65535),
    maxBatch: integer('--max-batch', raw.maxBatch, 1, 4096),
    batchDelayMs: integer('--batch-delay-ms', raw.batchDelayMs, 0, 10_000),
    maxQueue: integer('--max-queue', raw.maxQueue, 1, 1_000_000),
    maxBodyBytes: parseSize('--max-body', raw.maxBody),
    drainTimeoutMs: durationFlag('--drain-timeout', raw.drainTimeout),
    ...(raw.threads === 'auto'
      ? {}
      : { intraOpThreads: integer('--threads', raw.threads, 0, 256) }),
  };
}
