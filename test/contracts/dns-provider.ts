/**
 * The DnsProvider contract: every adapter (Route 53, RFC 2136, Cloud DNS, Azure DNS) runs it
 * against its real or emulated server. `lookup`, when given, reads the record through another
 * path than the adapter (a real DNS query, the raw API) to prove the write landed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McmlError } from '../../src/core/errors.js';
import type { DnsProvider } from '../../src/ports/dns-provider.js';

export interface DnsContractContext {
  provider: DnsProvider;
  /** The zone the provider writes to, e.g. example.test. */
  zone: string;
  /** Independent read of NAME TYPE: the values, sorted. */
  lookup?: (name: string, type: 'A' | 'AAAA' | 'CNAME') => Promise<string[]>;
  stop?: () => Promise<void>;
}

export function runDnsProviderContract(
  label: string,
  create: () => Promise<DnsContractContext>,
): void {
  describe(`DnsProvider contract: ${label}`, () => {
    let ctx: DnsContractContext;
    let n = 0;
    const fresh = () => `rec${++n}-${Date.now().toString(36)}.${ctx.zone}`;

    beforeAll(async () => {
      ctx = await create();
    });
    afterAll(async () => {
      await ctx?.provider.close?.();
      await ctx?.stop?.();
    });

    it('returns undefined for a record that does not exist', async () => {
      expect(await ctx.provider.get(fresh(), 'A')).toBeUndefined();
    });

    it('upserts an A record that get and an independent read both see', async () => {
      const name = fresh();
      await ctx.provider.upsert({ name, type: 'A', ttl: 30, values: ['127.0.0.2'] });
      expect(await ctx.provider.get(name, 'A')).toEqual({
        name,
        type: 'A',
        ttl: 30,
        values: ['127.0.0.2'],
      });
      if (ctx.lookup) expect(await ctx.lookup(name, 'A')).toEqual(['127.0.0.2']);
    });

    it('is idempotent and replaces values instead of adding to them', async () => {
      const name = fresh();
      const record = { name, type: 'A' as const, ttl: 30, values: ['127.0.0.2'] };
      await ctx.provider.upsert(record);
      await ctx.provider.upsert(record);
      expect((await ctx.provider.get(name, 'A'))?.values).toEqual(['127.0.0.2']);
      await ctx.provider.upsert({ ...record, ttl: 5, values: ['127.0.0.4', '127.0.0.3'] });
      expect(await ctx.provider.get(name, 'A')).toEqual({
        name,
        type: 'A',
        ttl: 5,
        values: ['127.0.0.3', '127.0.0.4'],
      });
      if (ctx.lookup) expect(await ctx.lookup(name, 'A')).toEqual(['127.0.0.3', '127.0.0.4']);
    });

    it('writes CNAME and AAAA records', async () => {
      const cname = fresh();
      await ctx.provider.upsert({
        name: cname,
        type: 'CNAME',
        ttl: 60,
        values: ['lb.example.net'],
      });
      expect(await ctx.provider.get(cname, 'CNAME')).toEqual({
        name: cname,
        type: 'CNAME',
        ttl: 60,
        values: ['lb.example.net'],
      });
      const v6 = fresh();
      await ctx.provider.upsert({ name: v6, type: 'AAAA', ttl: 60, values: ['2001:db8::1'] });
      expect((await ctx.provider.get(v6, 'AAAA'))?.values).toEqual(['2001:db8::1']);
    });

    it('deletes a record, and deleting a missing one is not an error', async () => {
      const name = fresh();
      await ctx.provider.upsert({ name, type: 'A', ttl: 30, values: ['127.0.0.9'] });
      await ctx.provider.delete(name, 'A');
      expect(await ctx.provider.get(name, 'A')).toBeUndefined();
      if (ctx.lookup) expect(await ctx.lookup(name, 'A')).toEqual([]);
      await ctx.provider.delete(name, 'A');
      await ctx.provider.delete(fresh(), 'A');
    });

    it('refuses a name outside its zone with an input error', async () => {
      const error = await ctx.provider
        .upsert({ name: 'ml.not-this-zone.invalid', type: 'A', ttl: 30, values: ['127.0.0.1'] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McmlError);
      expect((error as McmlError).isInputError).toBe(true);
    });
  });
}
