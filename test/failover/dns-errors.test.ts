/**
 * Every DNS adapter's error mapping, triggered against its server or double (issue 14 #20):
 * wrong credentials, an identity without permission, conflicts (409/412) and throttling
 * (429, Route 53's Throttling / PriorRequestNotComplete, Google's 403 rateLimitExceeded).
 * Route 53 runs on moto with authentication enforced; faults moto cannot produce are
 * injected by a proxy in front of it with Route 53's own error body. The RFC 2136 adapter's
 * errors (BADKEY, BADSIG, NOTZONE, REFUSED, no answer) are in rfc2136.test.ts against BIND.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import type { TokenCredential } from '@azure/core-auth';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureDnsProvider } from '../../src/adapters/azuredns/index.js';
import { CloudDnsProvider } from '../../src/adapters/clouddns/index.js';
import { Route53Provider } from '../../src/adapters/route53/index.js';
import { McmlError } from '../../src/core/errors.js';
import type { DnsRecord } from '../../src/ports/dns-provider.js';
import { startAzureDnsDouble, type AzureDnsDouble } from '../doubles/azuredns.js';
import { startCloudDnsDouble, type CloudDnsDouble } from '../doubles/clouddns.js';
import { startMoto, type AwsKey, type Moto } from '../helpers/moto.js';

const record = (zone: string): DnsRecord => ({
  name: `ml.${zone}`,
  type: 'A',
  ttl: 5,
  values: ['127.0.0.1'],
});

async function failure(p: Promise<unknown>): Promise<McmlError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(McmlError);
  return e as McmlError;
}

/** A proxy in front of moto that answers the next N requests with a Route 53 error. */
async function route53FaultProxy(target: string) {
  const t = new URL(target);
  let fault: { times: number; status: number; code: string } | undefined;
  const server: Server = createServer((req, res) => {
    if (fault && fault.times > 0) {
      fault.times--;
      req.resume();
      const xml =
        `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">` +
        `<Error><Type>Sender</Type><Code>${fault.code}</Code><Message>injected ${fault.code}</Message></Error>` +
        `<RequestId>1</RequestId></ErrorResponse>`;
      res.writeHead(fault.status, { 'content-type': 'text/xml' });
      res.end(xml);
      return;
    }
    const up = httpRequest(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fail: (times: number, status: number, code: string) => (fault = { times, status, code }),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('route53 error mapping (moto with authentication enforced)', () => {
  let moto: Moto;
  let zoneId: string;
  let proxy: Awaited<ReturnType<typeof route53FaultProxy>>;
  beforeAll(async () => {
    moto = await startMoto({ auth: true });
    const client = new Route53Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: moto.credentials,
    });
    const out = await client.send(
      new CreateHostedZoneCommand({ Name: 'errors.test', CallerReference: `errors-${Date.now()}` }),
    );
    client.destroy();
    zoneId = out.HostedZone!.Id!;
    proxy = await route53FaultProxy(moto.endpoint);
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });
  const provider = (credentials: AwsKey, endpoint = moto.endpoint) =>
    new Route53Provider({
      zone: 'errors.test',
      hostedZoneId: zoneId,
      endpoint,
      clientConfig: { credentials, maxAttempts: 1 },
    });

  it('works with the right key (the baseline the failures below differ from)', async () => {
    const p = provider(moto.credentials);
    await p.upsert(record('errors.test'));
    expect((await p.get('ml.errors.test', 'A'))?.values).toEqual(['127.0.0.1']);
    await p.close();
  });

  it('a wrong secret and an unknown key are PROVIDER_AUTH, and the secret is not in the message', async () => {
    const wrongSecret = { ...moto.credentials, secretAccessKey: 'not-the-secret-at-all' };
    const unknownKey = { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x'.repeat(40) };
    for (const key of [wrongSecret, unknownKey]) {
      const p = provider(key);
      const e = await failure(p.upsert(record('errors.test')));
      expect(e.code).toBe('PROVIDER_AUTH');
      expect(e.hint).toMatch(/AWS credentials/);
      expect(e.message).not.toContain(key.secretAccessKey);
      await p.close();
    }
  });

  it('an identity without permission is PERMISSION_DENIED, naming what it needs', async () => {
    const p = provider(await moto.userWithoutPermissions('dns-nobody'));
    const e = await failure(p.upsert(record('errors.test')));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.hint).toMatch(/route53:ChangeResourceRecordSets/);
    await p.close();
  });

  it.each([
    [409, 'HealthCheckAlreadyExists', 'CONFLICT', false],
    [412, 'PreconditionFailed', 'CONFLICT', false],
    [429, 'TooManyRequests', 'PROVIDER_UNAVAILABLE', true],
    [400, 'Throttling', 'PROVIDER_UNAVAILABLE', true],
    [400, 'PriorRequestNotComplete', 'PROVIDER_UNAVAILABLE', true],
    [400, 'InvalidChangeBatch', 'INVALID_ARGUMENT', false],
  ] as const)('%i %s is %s', async (status, code, expected, retryable) => {
    const p = provider(moto.credentials, proxy.endpoint);
    proxy.fail(1, status, code);
    const e = await failure(p.upsert(record('errors.test')));
    expect(e.code).toBe(expected);
    expect(e.message).toContain(code);
    expect(e.details.retryable === true).toBe(retryable);
    await p.close();
  });
});

/** A real OAuth2 client holding `token`: the SDK sends it without a network. */
function googleAuth(token: string) {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  return auth;
}

describe('clouddns error mapping (REST double that checks the token)', () => {
  let double: CloudDnsDouble;
  beforeAll(async () => {
    double = await startCloudDnsDouble('mcml-test', { token: 'right-token' });
    double.addZone('errors-test', 'errors.test.');
  });
  afterAll(async () => {
    await double?.stop();
  });
  const provider = (token = 'right-token', project = double.project) =>
    new CloudDnsProvider({
      project,
      zone: 'errors.test',
      endpoint: double.endpoint,
      authClient: googleAuth(token),
    });

  it('works with the right token (the baseline)', async () => {
    await provider().upsert(record('errors.test'));
    expect(double.records('errors-test').map((r) => r.rrdatas)).toEqual([['127.0.0.1']]);
  });

  it('a wrong token is PROVIDER_AUTH, another project PERMISSION_DENIED', async () => {
    const auth = await failure(provider('expired-token').get('ml.errors.test', 'A'));
    expect(auth.code).toBe('PROVIDER_AUTH');
    expect(auth.hint).toMatch(/gcloud auth application-default login/);
    expect(auth.message).not.toContain('expired-token');
    const denied = await failure(
      provider('right-token', 'someone-else').get('ml.errors.test', 'A'),
    );
    expect(denied.code).toBe('PERMISSION_DENIED');
  });

  it.each([
    [409, 'alreadyExists', 'CONFLICT', false],
    [412, 'conditionNotMet', 'CONFLICT', false],
    [429, 'rateLimitExceeded', 'PROVIDER_UNAVAILABLE', true],
    [403, 'rateLimitExceeded', 'PROVIDER_UNAVAILABLE', true],
    [403, 'quotaExceeded', 'PROVIDER_UNAVAILABLE', true],
  ] as const)('%i %s is %s', async (status, reason, expected, retryable) => {
    const p = provider();
    await p.get('ml.errors.test', 'A'); // the zone is resolved: the fault hits the write
    // The client retries 429 three times with backoff (its retry settings are fixed).
    double.failNext(status === 429 ? 4 : 1, status, reason);
    const e = await failure(
      p.upsert({ ...record('errors.test'), values: [`127.0.0.${status % 250}`] }),
    );
    expect(e.code).toBe(expected);
    expect(e.details.retryable === true).toBe(retryable);
  });
});

describe('azuredns error mapping (ARM double that checks the token)', () => {
  let double: AzureDnsDouble;
  beforeAll(async () => {
    double = await startAzureDnsDouble(undefined, {
      token: 'right-token',
      readOnlyToken: 'reader-token',
    });
    double.addZone('mcml-rg', 'errors.test');
  });
  afterAll(async () => {
    await double?.stop();
  });
  const credentialFor = (token: string): TokenCredential => ({
    getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
  });
  const provider = (token = 'right-token') =>
    new AzureDnsProvider({
      subscriptionId: double.subscriptionId,
      resourceGroup: 'mcml-rg',
      zone: 'errors.test',
      endpoint: double.endpoint,
      ca: double.ca,
      credential: credentialFor(token),
    });

  it('works with the right token (the baseline)', async () => {
    const p = provider();
    await p.upsert(record('errors.test'));
    expect((await p.get('ml.errors.test', 'A'))?.values).toEqual(['127.0.0.1']);
  });

  it('a wrong token is PROVIDER_AUTH, a reader PERMISSION_DENIED', async () => {
    const auth = await failure(provider('stolen-token').get('ml.errors.test', 'A'));
    expect(auth.code).toBe('PROVIDER_AUTH');
    expect(auth.hint).toMatch(/az login/);
    const reader = provider('reader-token');
    expect((await reader.get('ml.errors.test', 'A'))?.values).toEqual(['127.0.0.1']);
    const denied = await failure(reader.upsert(record('errors.test')));
    expect(denied.code).toBe('PERMISSION_DENIED');
    expect(denied.hint).toMatch(/DNS Zone Contributor/);
  });

  it.each([
    [409, 'Conflict', 'CONFLICT', false],
    [412, 'PreconditionFailed', 'CONFLICT', false],
    [429, 'TooManyRequests', 'PROVIDER_UNAVAILABLE', true],
  ] as const)('%i %s is %s', async (status, code, expected, retryable) => {
    const p = provider();
    await p.get('ml.errors.test', 'A'); // the zone is checked: the fault hits the write
    // More failures than the SDK's retries (it retries 429 after Retry-After: 0).
    double.failNext(10, status, code);
    const e = await failure(p.upsert(record('errors.test')));
    double.failNext(0, 200, '');
    expect(e.code).toBe(expected);
    expect(e.details.retryable === true).toBe(retryable);
  });
});
