/**
 * What may hold the front door's admin token. The token travels as a bearer header from
 * browsers and scripts, so it must be a secret of its own: never a cloud credential that the
 * SDKs read from the environment, never the DNS server's TSIG secret.
 */

/** Variables the clouds' SDKs and tools read credentials from. */
const CREDENTIAL_ENV = /^(AWS_|AZURE_|ARM_|GOOGLE_|GCLOUD_|CLOUDSDK_|GCP_)/;

/** Why `adminTokenEnv` may not name this variable, or undefined when it may. */
export function adminTokenEnvProblem(name: string, tsigSecretEnv?: string): string | undefined {
  if (!CREDENTIAL_ENV.test(name) && name !== tsigSecretEnv) return undefined;
  return `${name} holds a credential; the admin token is sent by browsers and scripts as a bearer header and must be a secret of its own`;
}

/** The hint that goes with the problem. */
export const ADMIN_TOKEN_ENV_HINT =
  'use a variable of its own, e.g. adminTokenEnv: MCML_ADMIN_TOKEN';
