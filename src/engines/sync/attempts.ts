/** Retries for the sync engine: which failures are worth another try, and the wait between. */
import { isMcmlError } from '../../core/errors.js';

/** A failure as the report shows it, and whether trying again may succeed. */
export function describeFailure(error: unknown): {
  message: string;
  code: string;
  retryable: boolean;
} {
  if (isMcmlError(error))
    return {
      message: error.message,
      code: error.code,
      retryable: error.details.retryable === true,
    };
  const e = error as { code?: unknown; message?: string };
  return {
    message: e?.message ?? String(error),
    code: 'INTERNAL',
    retryable: /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/.test(
      `${String(e?.code)} ${e?.message ?? ''}`,
    ),
  };
}

/** Exponential backoff with jitter: 250 ms doubling per attempt, at most 10 s. */
export function backoff(attempt: number): number {
  return Math.min(10_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}
