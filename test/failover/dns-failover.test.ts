/**
 * DNS failover end to end: the controller in dns/both mode keeps a record on a real BIND
 * pointing at the active target; the answer changes when the primary is SIGKILLed. An
 * unreachable DNS server does not stop the front door.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createDnsProvider } from '../../src/adapters/dns.js';
import {
  startFailover,
  type FailoverLogEntry,
  type RunningFailover,
} from '../../src/engines/failover/index.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { failoverSpec } from './spec.js';
import { startUpstream, type Upstream } from './upstreams.js';

function nextEvent(fo: RunningFailover, match: (e: FailoverLogEntry) => boolean) {
  return new Promise<FailoverLogEntry>((resolve) => {
    const on = (e: FailoverLogEntry) => {
      if (match(e)) {
        fo.events.off('event', on);
        resolve(e);
      }
    };
    fo.events.on('event', on);
  });
}

describe('DNS failover on BIND', () => {
  let bind: Bind;
  let ups: Upstream[];
  beforeAll(async () => {
    [bind, ...ups] = await Promise.all([
      startBind(),
      startUpstream('a', { host: '127.0.0.1' }),
      startUpstream('b', { host: '127.0.0.2' }),
      startUpstream('c', { host: '127.0.0.3' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bind?.stop(), ...(ups ?? []).map((u) => u.stop())]);
  });

  it('points the record at the active target and moves it when the primary dies', async () => {
    const spec = failoverSpec(
      ups.map((u) => ({ name: u.name, url: u.url })),
      `mode: dns
check: { interval: 200ms, timeout: 2s, failureThreshold: 2 }
dns: { provider: rfc2136, zone: ${bind.zone}, record: ml.${bind.zone}, ttl: 5, server: "${bind.server}", tsigKeyName: ${bind.keyName} }`,
    );
    const dns = await createDnsProvider(spec.failover.dns!, {
      env: { MCML_TSIG_SECRET: bind.secret },
    });
    const fo = await startFailover({ spec, dns });
    try {
      expect(fo.url).toBeUndefined();
      await fo.dnsSettled();
      expect(await bind.dig(`ml.${bind.zone}`, 'A')).toEqual(['127.0.0.1']);
      const moved = nextEvent(fo, (e) => e.type === 'dns-write' && e.target === 'b');
      await ups[0]!.kill();
      await moved;
      expect(await bind.dig(`ml.${bind.zone}`, 'A')).toEqual(['127.0.0.2']);
      expect(fo.status().dns).toMatchObject({ values: ['127.0.0.2'], writes: 2 });
    } finally {
      await fo.close();
      await ups[0]!.restart();
    }
    // The primary is back: a new controller moves the record back, and one more restart
    // finds the record already right and writes nothing.
    for (const expected of [1, 0]) {
      const again = await startFailover({
        spec,
        dns: await createDnsProvider(spec.failover.dns!, {
          env: { MCML_TSIG_SECRET: bind.secret },
        }),
      });
      try {
        await again.dnsSettled();
        expect(await bind.dig(`ml.${bind.zone}`, 'A')).toEqual(['127.0.0.1']);
        expect(again.status().dns?.writes).toBe(expected);
      } finally {
        await again.close();
      }
    }
  });

  it('keeps the front door serving while the DNS server is unreachable', async () => {
    const spec = failoverSpec(
      ups.map((u) => ({ name: u.name, url: u.url })),
      `mode: both
check: { interval: 5s }
frontDoor: { port: 0 }
dns: { provider: rfc2136, zone: ${bind.zone}, record: ml.${bind.zone}, server: "127.0.0.1:9", tsigKeyName: ${bind.keyName} }`,
    );
    const dns = await createDnsProvider(spec.failover.dns!, {
      env: { MCML_TSIG_SECRET: bind.secret },
    });
    const fo = await startFailover({ spec, dns });
    try {
      const failed = await nextEvent(fo, (e) => e.type === 'dns-error');
      expect(String(failed.error)).toMatch(/did not answer|ECONNREFUSED|refused/i);
      const res = await request(`${fo.url}/x`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      const metrics = await (await request(`${fo.url}/_mcml/metrics`)).body.text();
      expect(metrics).toMatch(/mcml_dns_up 0/);
      expect(metrics).toMatch(/mcml_dns_writes_total\{result="error"\} [1-9]/);
    } finally {
      await fo.close();
    }
  });
});
