/** How cost API failures map onto McmlErrors, shared by the billing adapters. */
import { McmlError } from '../../core/errors.js';

/** A refusal: the credentials lack the permission (no point retrying). */
export function denied(cloud: string, what: string, detail: string): McmlError {
  return new McmlError('PERMISSION_DENIED', `${cloud}: ${what} refused: ${detail}`, {
    details: { cloud, retryable: false },
    hint: permissionHint(cloud),
  });
}

/** Throttled or failing for a while: retry later. */
export function unavailable(
  cloud: string,
  what: string,
  detail: string,
  retryAfterMs?: number,
): McmlError {
  return new McmlError('PROVIDER_UNAVAILABLE', `${cloud}: ${what} failed: ${detail}`, {
    details: { cloud, retryable: true, ...(retryAfterMs ? { retryAfterMs } : {}) },
  });
}

/** Credentials missing or rejected. */
export function unauthenticated(cloud: string, detail: string): McmlError {
  return new McmlError('PROVIDER_AUTH', `${cloud}: no usable credentials: ${detail}`, {
    details: { cloud, retryable: false },
    hint: permissionHint(cloud),
  });
}

function permissionHint(cloud: string): string {
  switch (cloud) {
    case 'aws':
      return 'the AWS identity needs ce:GetCostAndUsage (default credential chain: AWS_PROFILE, env, SSO, IMDS)';
    case 'azure':
      return 'the Azure identity needs Cost Management Reader on the scope (DefaultAzureCredential: az login, env, managed identity)';
    default:
      return 'the Google identity needs bigquery.jobs.create on the project and read access to the billing export dataset (ADC: gcloud auth application-default login)';
  }
}

/** Seconds or an HTTP date from a Retry-After style header, as milliseconds. */
export function retryAfterMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}
