/**
 * Keeps one DNS record pointing at the active target. Writes only on change (it reads the
 * record first, so a restart writes nothing), rate-limits writes to what the provider allows,
 * and retries failures with exponential backoff without ever blocking the front door.
 */
import type { Clock } from '../../ports/clock.js';
import type { DnsProvider, DnsRecord } from '../../ports/dns-provider.js';
import type { EventLog } from './events.js';
import type { FailoverMetrics } from './metrics.js';

export interface DnsUpdaterOptions {
  provider: DnsProvider;
  /** Record name, fully qualified without the trailing dot. */
  name: string;
  ttl: number;
  clock: Clock;
  events?: EventLog;
  metrics?: FailoverMetrics;
  /** Smallest gap between two writes; default from the provider's rate limit. */
  minIntervalMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface DnsTarget {
  name: string;
  type: DnsRecord['type'];
  value: string;
}

function sameRecord(a: DnsRecord | undefined, b: DnsRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.type === b.type &&
    a.ttl === b.ttl &&
    [...a.values].sort().join(',') === [...b.values].sort().join(',')
  );
}

export class DnsUpdater {
  private readonly options: DnsUpdaterOptions;
  private desired: (DnsRecord & { target: string }) | undefined;
  private written: DnsRecord | undefined;
  private known = false;
  private lastWriteAt = -Infinity;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly minIntervalMs: number;
  private firstResolve: ((error: unknown) => void) | undefined;
  /** Settles after the first sync attempt: undefined when it worked, else its error. */
  readonly firstAttempt: Promise<unknown> = new Promise((resolve) => {
    this.firstResolve = resolve;
  });
  /** Writes done (not skipped), for tests and status. */
  writes = 0;
  lastError: string | undefined;

  constructor(options: DnsUpdaterOptions) {
    this.options = options;
    const perSecond = options.provider.maxWritesPerSecond;
    this.minIntervalMs =
      options.minIntervalMs ?? (perSecond && perSecond > 0 ? 1000 / perSecond : 0);
  }

  /** Points the record at `target` (or leaves it alone when undefined: nothing is healthy). */
  point(target: DnsTarget | undefined): void {
    if (!target) {
      this.options.events?.record('dns-hold', this.options.clock.now(), {
        record: this.options.name,
        message: 'no healthy target: the record keeps its last value',
      });
      return;
    }
    this.desired = {
      target: target.name,
      name: this.options.name,
      type: target.type,
      ttl: this.options.ttl,
      values: [target.value],
    };
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once the record matches the desired value (or the updater is closed). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The record as last written or read. */
  get current(): DnsRecord | undefined {
    return this.written;
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('dns updater closed'));
    await this.running?.catch(() => undefined);
  }

  /** Until the record matches the latest desired value: read it once, write it, back off on failure. */
  private async run(): Promise<void> {
    const { clock } = this.options;
    const signal = this.abort.signal;
    let backoff = this.options.initialBackoffMs ?? 500;
    const maxBackoff = this.options.maxBackoffMs ?? 30_000;
    while (!signal.aborted) {
      const want = this.desired;
      if (!want) return;
      try {
        if (await this.matches(want)) {
          this.settleFirst(undefined);
          if (this.desired === want) return;
          continue;
        }
        const { record, previous } = await this.write(want);
        backoff = this.options.initialBackoffMs ?? 500;
        this.wrote(record, previous, want.target);
      } catch (error) {
        if (signal.aborted) return;
        this.failed(error, want, backoff);
        try {
          await clock.sleep(backoff, signal);
        } catch {
          return;
        }
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  }

  /** Whether the record already holds `want`; reads it first when its value is not known. */
  private async matches(want: DnsRecord): Promise<boolean> {
    if (!this.known) {
      await this.waitForRateLimit();
      this.written = await this.options.provider.get(want.name, want.type);
      this.lastWriteAt = this.options.clock.now();
      this.known = true;
    }
    return sameRecord(this.written, want);
  }

  /** Writes `want` (deleting a record of another type first), rate-limited. */
  private async write(
    want: DnsRecord,
  ): Promise<{ record: DnsRecord; previous: DnsRecord | undefined }> {
    const { provider, clock } = this.options;
    await this.waitForRateLimit();
    const record: DnsRecord = {
      name: want.name,
      type: want.type,
      ttl: want.ttl,
      values: want.values,
    };
    if (this.written && this.written.type !== record.type) {
      await provider.delete(record.name, this.written.type);
    }
    await provider.upsert(record);
    this.lastWriteAt = clock.now();
    const previous = this.written;
    this.written = record;
    this.writes++;
    this.lastError = undefined;
    return { record, previous };
  }

  /** A write landed: the first attempt settles, metrics and a dns-write event. */
  private wrote(record: DnsRecord, previous: DnsRecord | undefined, target: string): void {
    const { clock, provider, events, metrics } = this.options;
    this.settleFirst(undefined);
    metrics?.dnsWrites.inc({ result: 'ok' });
    metrics?.dnsUp.set(1);
    events?.record('dns-write', clock.now(), {
      provider: provider.name,
      record: record.name,
      recordType: record.type,
      ttl: record.ttl,
      values: record.values,
      previous: previous?.values,
      target,
    });
  }

  /** A read or write failed: the first attempt settles with it, metrics and a dns-error event. */
  private failed(error: unknown, want: DnsRecord, backoff: number): void {
    const { clock, provider, events, metrics } = this.options;
    this.settleFirst(error);
    this.lastError = error instanceof Error ? error.message : String(error);
    metrics?.dnsWrites.inc({ result: 'error' });
    metrics?.dnsUp.set(0);
    // Re-read before the next attempt: the failed write may have landed after all.
    this.known = false;
    events?.record('dns-error', clock.now(), {
      provider: provider.name,
      record: want.name,
      error: this.lastError,
      retryInMs: backoff,
    });
  }

  private settleFirst(error: unknown): void {
    this.firstResolve?.(error);
    this.firstResolve = undefined;
  }

  private async waitForRateLimit(): Promise<void> {
    const wait = this.lastWriteAt + this.minIntervalMs - this.options.clock.now();
    if (wait > 0) await this.options.clock.sleep(wait, this.abort.signal);
  }
}
