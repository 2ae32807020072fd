/** The RFC 2136 adapter against a real BIND 9, read back with dig. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rfc2136Provider } from '../../src/adapters/rfc2136/index.js';
import { McmlError } from '../../src/core/errors.js';
import { runDnsProviderContract } from '../contracts/dns-provider.js';
import { startBind, type Bind } from '../helpers/bind.js';

runDnsProviderContract('rfc2136 on BIND', async () => {
  const bind = await startBind();
  return {
    provider: new Rfc2136Provider({
      server: bind.server,
      zone: bind.zone,
      tsig: { name: bind.keyName, algorithm: bind.algorithm, secretBase64: bind.secret },
    }),
    zone: bind.zone,
    lookup: (name, type) => bind.dig(name, type),
    stop: () => bind.stop(),
  };
});

describe('rfc2136 errors a person can act on', () => {
  let bind: Bind;
  beforeAll(async () => {
    bind = await startBind();
  });
  afterAll(async () => {
    await bind?.stop();
  });
  const record = () => ({
    name: `ml.${bind.zone}`,
    type: 'A' as const,
    ttl: 5,
    values: ['127.0.0.1'],
  });

  it('names a TSIG key BIND does not know, never the secret', async () => {
    const secret = Buffer.alloc(32, 7).toString('base64');
    const p = new Rfc2136Provider({
      server: bind.server,
      zone: bind.zone,
      tsig: { name: 'no-such-key', algorithm: 'hmac-sha256', secretBase64: secret },
    });
    const e = (await p.upsert(record()).catch((x: unknown) => x)) as McmlError;
    expect(e).toBeInstanceOf(McmlError);
    expect(e.code).toBe('PROVIDER_AUTH');
    expect(e.message).toContain('"no-such-key"');
    expect(e.message).toContain('BADKEY');
    expect(`${e.message} ${e.hint}`).not.toContain(secret);
  });

  it('reports a wrong secret for a known key as BADSIG', async () => {
    const p = new Rfc2136Provider({
      server: bind.server,
      zone: bind.zone,
      tsig: {
        name: bind.keyName,
        algorithm: 'hmac-sha256',
        secretBase64: Buffer.alloc(32, 1).toString('base64'),
      },
    });
    const e = (await p.upsert(record()).catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('PROVIDER_AUTH');
    expect(e.message).toContain('BADSIG');
  });

  it('reports a zone the server does not serve', async () => {
    const p = new Rfc2136Provider({
      server: bind.server,
      zone: 'nowhere.test',
      tsig: { name: bind.keyName, algorithm: bind.algorithm, secretBase64: bind.secret },
    });
    const e = (await p
      .upsert({ ...record(), name: 'ml.nowhere.test' })
      .catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('nowhere.test');
    const g = (await p.get('ml.nowhere.test', 'A').catch((x: unknown) => x)) as McmlError;
    expect(g.code).toBe('NOT_FOUND');
  });

  it('refuses an unsigned update', async () => {
    const p = new Rfc2136Provider({ server: bind.server, zone: bind.zone });
    const e = (await p.upsert(record()).catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('PERMISSION_DENIED');
  });

  it('reports a server that does not answer', async () => {
    const p = new Rfc2136Provider({ server: '127.0.0.1:9', zone: bind.zone, timeoutMs: 300 });
    const e = (await p.get(`ml.${bind.zone}`, 'A').catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
  });
});
