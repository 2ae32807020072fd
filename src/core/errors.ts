/**
 * The one error type of mcml. Every expected failure carries a `code`; the CLI maps codes to
 * exit codes (2: the input is wrong, 1: the world failed) and HTTP apps map them to statuses.
 * Formatting lives outside the class (see `formatError` in the CLI).
 */

/** Codes for failures caused by what the user gave us: fix the input and retry. */
export const INPUT_ERROR_CODES = [
  'USAGE',
  'SPEC_INVALID',
  'CATALOG_INVALID',
  'PLAN_INFEASIBLE',
  'RESIDENCY_VIOLATION',
  'NOT_FOUND',
  'CONFLICT',
  'PROVIDER_AUTH',
  'PERMISSION_DENIED',
  'PAYLOAD_TOO_LARGE',
  'INVALID_ARGUMENT',
  'UNSUPPORTED',
] as const;

/** Codes for failures of the world: a cloud API down, a process killed, a check failed. */
export const WORLD_ERROR_CODES = [
  'PROVIDER_UNAVAILABLE',
  'TIMEOUT',
  'INTEGRITY',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type InputErrorCode = (typeof INPUT_ERROR_CODES)[number];
export type WorldErrorCode = (typeof WORLD_ERROR_CODES)[number];
export type ErrorCode = InputErrorCode | WorldErrorCode;

/** One problem inside a larger error, e.g. one bad field of a spec or one bad catalog row. */
export interface Issue {
  /** Where: a field path such as `targets[1].region`, or a `file:line:column`. */
  path: string;
  message: string;
  /** A suggested fix, e.g. the nearest valid value. */
  hint?: string;
  /** 1-based position in the source text, when known. */
  line?: number;
  column?: number;
}

export interface McmlErrorOptions {
  details?: Record<string, unknown>;
  issues?: Issue[];
  hint?: string;
  cause?: unknown;
}

/** The error class every layer throws for expected failures. */
export class McmlError extends Error {
  override readonly name = 'McmlError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly issues: Issue[];
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: McmlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.issues = options.issues ?? [];
    this.hint = options.hint;
  }

  /** True when the user can fix this by changing what they gave us. */
  get isInputError(): boolean {
    return isInputErrorCode(this.code);
  }
}

export function isInputErrorCode(code: ErrorCode): code is InputErrorCode {
  return (INPUT_ERROR_CODES as readonly string[]).includes(code);
}

export function isMcmlError(value: unknown): value is McmlError {
  return value instanceof McmlError;
}

/** Exit code for an error: 2 for bad input, 1 for a failure of the world or a bug. */
export function exitCodeFor(error: unknown): 1 | 2 {
  return isMcmlError(error) && error.isInputError ? 2 : 1;
}

/** HTTP status for an error, for the HTTP apps (serve, front door, dashboard). */
export function httpStatusFor(error: unknown): number {
  if (!isMcmlError(error)) return 500;
  switch (error.code) {
    case 'NOT_FOUND':
      return 404;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'PROVIDER_AUTH':
      return 401;
    case 'PERMISSION_DENIED':
      return 403;
    case 'CONFLICT':
      return 409;
    case 'UNAVAILABLE':
    case 'PROVIDER_UNAVAILABLE':
      return 503;
    case 'TIMEOUT':
      return 504;
    case 'INTERNAL':
    case 'INTEGRITY':
      return 500;
    default:
      return 400;
  }
}
