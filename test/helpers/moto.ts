/** moto_server (AWS emulator: S3, Route 53, EKS, Cost Explorer) for tests. */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { freePort, startServer, type RunningServer } from './process.js';

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Moto extends RunningServer {
  endpoint: string;
  /** Environment for AWS SDK clients pointed at this moto. */
  env: Record<string, string>;
  /** With `auth`: an IAM user allowed everything; moto checks every signature against it. */
  credentials: AwsKey;
  /** With `auth`: a new IAM user with no permission at all (requests are denied, 403). */
  userWithoutPermissions(name: string): Promise<AwsKey>;
}

function toBytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** SHA-256 for the SigV4 signer (node:crypto, HMAC when given a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', toBytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

/** One IAM query-API call, signed with `key` (moto routes by the signature's service). */
async function iam(endpoint: string, key: AwsKey, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ ...params, Version: '2010-05-08' }).toString();
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    service: 'iam',
    region: 'us-east-1',
    credentials: key,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const r = await fetch(`${endpoint}/`, { method: 'POST', headers: signed.headers, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`IAM ${params.Action} on moto: ${r.status} ${text}`);
  return text;
}

const tag = (xml: string, name: string) =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '';

async function createUser(
  endpoint: string,
  signer: AwsKey,
  name: string,
  allowAll: boolean,
): Promise<AwsKey> {
  await iam(endpoint, signer, { Action: 'CreateUser', UserName: name });
  if (allowAll)
    await iam(endpoint, signer, {
      Action: 'PutUserPolicy',
      UserName: name,
      PolicyName: 'everything',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      }),
    });
  const xml = await iam(endpoint, signer, { Action: 'CreateAccessKey', UserName: name });
  return { accessKeyId: tag(xml, 'AccessKeyId'), secretAccessKey: tag(xml, 'SecretAccessKey') };
}

/**
 * Starts moto_server on a random loopback port. Call stop() in afterAll. With `auth`, moto
 * authenticates and authorises every request (INITIAL_NO_AUTH_ACTION_COUNT: the first three
 * actions create the IAM user whose key `credentials` holds); a wrong key or signature is
 * refused as AWS refuses it.
 */
export async function startMoto(
  options: { auth?: boolean; env?: Record<string, string> } = {},
): Promise<Moto> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  // moto answers plain HTTP; the machine's CA bundle only matters for real AWS.
  delete env.AWS_CA_BUNDLE;
  Object.assign(env, options.env);
  if (options.auth) env.INITIAL_NO_AUTH_ACTION_COUNT = '3';
  const server = await startServer('moto_server', ['-H', '127.0.0.1', '-p', String(port)], port, {
    env,
    installHint: 'pip install "moto[server]"',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  let credentials: AwsKey = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  if (options.auth) {
    try {
      credentials = await createUser(
        endpoint,
        { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
        'mcml-admin',
        true,
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  return {
    ...server,
    endpoint,
    credentials,
    userWithoutPermissions: (name) => createUser(endpoint, credentials, name, false),
    env: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: endpoint,
    },
  };
}
