/**
 * One client request's race through the targets: which target gets the next attempt, which
 * attempt answers the client, which are cancelled, hedged or blamed. The attempts themselves
 * are undici dispatch handlers (`ProxyHandler`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { attemptLimitMs } from '../../core/failover/index.js';
import { describeNetworkError } from './health-checker.js';
import type { LabelCache } from './label-cache.js';
import { forwardHeaders, responseHeaders } from './proxy-headers.js';
import { jsonError, limitStream, tooLarge, isTooLarge } from './proxy-body.js';
import type { ProxyAttempt, Upstream } from './upstreams.js';
import { classifyUpstreamError, isGatewayStatus } from './upstream-errors.js';

/** Upstream answers up to this size (with a Content-Length) are relayed in one write. */
const SMALL_BODY_BYTES = 1024 * 1024;

/** One client request on its way through the targets. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  method: string;
  started: number;
  jurisdiction: string | undefined;
  /** Targets that may serve it, in order; `next` is the first not tried yet. */
  targets: string[];
  next: number;
  /** Attempts in flight that have not answered. More than one while hedging. */
  live: ProxyAttempt[];
  /** The attempt whose answer goes to the client. */
  winner: ProxyAttempt | undefined;
  /** The client has its answer (or an error), or has gone. */
  settled: boolean;
  failures: string[];
  /** The buffered body of a retry-safe request. */
  body: Buffer | undefined;
  /** The body streams through (not retry-safe): one attempt only. */
  streamBody: boolean;
  retrySafe: boolean;
}

export interface RaceOptions {
  pools: ReadonlyMap<string, Upstream>;
  counters: LabelCache;
  maxBodyBytes: number;
  /** The longest one attempt may take (and the ceiling of a hedged attempt's limit). */
  upstreamTimeoutMs: number;
  /** The shortest time limit of a hedged attempt. */
  attemptFloorMs: number;
  /** Each answer or failure of a target, for the health state. */
  onOutcome: (target: string, ok: boolean, error?: string) => void;
}

/** Drives exchanges: launches attempts, settles them, and answers 503 when every target failed. */
export class Race {
  readonly counters: LabelCache;
  readonly maxBodyBytes: number;
  readonly onOutcome: RaceOptions['onOutcome'];

  constructor(private readonly o: RaceOptions) {
    this.counters = o.counters;
    this.maxBodyBytes = o.maxBodyBytes;
    this.onOutcome = o.onOutcome;
  }

  /** Another attempt could still answer: a live one, or a target not tried yet. */
  hasFallback(exchange: Exchange, besides: ProxyAttempt): boolean {
    return exchange.next < exchange.targets.length || exchange.live.some((a) => a !== besides);
  }

  /** Sends the request to the next target not tried yet, or answers 503 when none is left. */
  launch(exchange: Exchange): void {
    const { res } = exchange;
    if (exchange.settled || res.destroyed) return;
    let upstream: Upstream | undefined;
    while (exchange.next < exchange.targets.length && !upstream) {
      upstream = this.o.pools.get(exchange.targets[exchange.next++]!);
    }
    if (!upstream) {
      if (exchange.live.length > 0) return; // a hedged attempt may still answer
      exchange.settled = true;
      this.counters.request('none', 503);
      jsonError(res, 503, {
        error: 'all_targets_failed',
        message:
          `every target${exchange.jurisdiction ? ` in jurisdiction "${exchange.jurisdiction}"` : ''} ` +
          `failed this request: ${exchange.failures.join('; ')}`,
        tried: exchange.targets,
      });
      return;
    }
    const hedgeable = exchange.retrySafe && exchange.next < exchange.targets.length;
    const limitMs = hedgeable
      ? attemptLimitMs(upstream.latency.p99, {
          floorMs: this.o.attemptFloorMs,
          ceilingMs: this.o.upstreamTimeoutMs,
        })
      : this.o.upstreamTimeoutMs;
    const handler = new ProxyHandler(this, exchange, upstream, limitMs, hedgeable);
    exchange.live.push(handler);
    upstream.waiting.add(handler);
    const body = exchange.streamBody
      ? limitStream(exchange.req, this.maxBodyBytes)
      : (exchange.body ?? null);
    upstream.pool.dispatch(
      {
        path: upstream.basePath + exchange.path,
        method: exchange.method,
        headers: forwardHeaders(exchange.req, upstream.host, exchange.body?.length),
        body,
      },
      handler,
    );
  }

  /**
   * An attempt is out of the race (failed, or its target is down): try the next target unless
   * an attempt still within its time limit may answer.
   */
  drop(exchange: Exchange, attempt: ProxyAttempt, reason: string): void {
    this.forget(exchange, attempt);
    exchange.failures.push(`${attempt.upstream.name}: ${reason}`);
    if (exchange.live.every((a) => a.late)) this.launch(exchange);
  }

  forget(exchange: Exchange, attempt: ProxyAttempt): void {
    const i = exchange.live.indexOf(attempt);
    if (i >= 0) exchange.live.splice(i, 1);
    attempt.upstream.waiting.delete(attempt);
  }

  /** `attempt` answers the client: every other attempt is cancelled. */
  win(exchange: Exchange, attempt: ProxyAttempt): void {
    this.forget(exchange, attempt);
    exchange.winner = attempt;
    exchange.settled = true;
    for (const other of exchange.live) {
      other.cancel();
      // It was hedged and lost: the target did not answer in time, which is its fault.
      if (other.late) {
        this.onOutcome(other.upstream.name, false, `no answer within ${other.limitMs} ms`);
      }
    }
    exchange.live.length = 0;
  }

  /** The request cannot be forwarded as the client sent it: 400, no retry, no blame. */
  refuse(exchange: Exchange, attempt: ProxyAttempt, error: Error): void {
    this.forget(exchange, attempt);
    for (const other of exchange.live) other.cancel();
    exchange.live.length = 0;
    exchange.settled = true;
    jsonError(exchange.res, 400, {
      error: 'bad_request',
      message: `the request cannot be forwarded: ${error.message}`,
    });
  }

  /** The controller declared `target` down: its waiting retry-safe attempts move on. */
  targetDown(target: string): void {
    const upstream = this.o.pools.get(target);
    if (!upstream) return;
    for (const attempt of [...upstream.waiting]) attempt.targetDown();
  }
}

/** One proxied attempt, as an undici dispatch handler (the pool's native interface). */
export class ProxyHandler implements Dispatcher.DispatchHandler, ProxyAttempt {
  late = false;
  private abort: ((reason?: Error) => void) | undefined;
  private cancelled = false;
  /** A gateway status while another attempt may still answer: read and drop the body. */
  private dropping = false;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private streaming = false;
  private readonly sent = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly race: Race,
    private readonly exchange: Exchange,
    readonly upstream: Upstream,
    readonly limitMs: number,
    hedgeable: boolean,
  ) {
    if (hedgeable) {
      this.timer = setTimeout(() => this.onLate(), limitMs);
      this.timer.unref();
    }
  }

  cancel(): void {
    this.cancelled = true;
    this.clearTimer();
    this.upstream.waiting.delete(this);
    this.abort?.();
  }

  /** No answer within the limit: the next tier gets the request too. */
  private onLate(): void {
    this.timer = undefined;
    if (this.cancelled || this.exchange.settled) return;
    this.late = true;
    this.race.counters.retry(this.upstream.name, 'slow');
    this.race.launch(this.exchange);
  }

  /** The target was declared down: give up on it and let the next tier answer. */
  targetDown(): void {
    if (this.cancelled || this.exchange.settled || !this.exchange.retrySafe) return;
    this.cancel();
    this.race.counters.retry(this.upstream.name, 'down');
    this.race.drop(this.exchange, this, 'target declared down');
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abort = abort;
    if (this.cancelled) abort();
  }

  onError(error: Error): void {
    this.clearTimer();
    if (this.cancelled) return;
    const { exchange } = this;
    const { res } = exchange;
    const name = this.upstream.name;
    if (this.streaming || this.chunks !== undefined) {
      // The answer broke after it started: nothing safe to retry; tell the client by closing.
      // A client too slow to read is not the target's fault.
      if (!res.writableNeedDrain && classifyUpstreamError(error) !== 'unknown') {
        this.race.onOutcome(name, false, describeNetworkError(error));
      }
      res.destroy();
      return;
    }
    if (this.dropping) return;
    if (exchange.streamBody && isTooLarge(error)) {
      this.race.forget(exchange, this);
      exchange.settled = true;
      tooLarge(res, this.race.maxBodyBytes);
      return;
    }
    if (exchange.req.destroyed && !exchange.req.complete) {
      // The client hung up while its body streamed: its doing, not the target's.
      this.race.forget(exchange, this);
      res.destroy();
      return;
    }
    const fault = classifyUpstreamError(error);
    if (fault === 'request') {
      this.race.refuse(exchange, this, error);
      return;
    }
    const reason = describeNetworkError(error, this.limitMs);
    // A streamed body is the client's to pace: only a failure to connect is surely the target's.
    if (fault === 'connect' || (fault === 'target' && !exchange.streamBody)) {
      this.race.onOutcome(name, false, reason);
    }
    if (this.race.hasFallback(exchange, this)) this.race.counters.retry(name, 'error');
    this.race.drop(exchange, this, reason);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx: undici waits for the final answer
    this.clearTimer();
    if (this.cancelled) return false;
    const { exchange } = this;
    const { res } = exchange;
    const name = this.upstream.name;
    this.upstream.latency.add(performance.now() - this.sent);
    // Only a gateway status says the target cannot serve; any other answer (a 500 for a
    // request the target did not like included) proves it is there and answering.
    const gateway = isGatewayStatus(status);
    this.race.onOutcome(name, !gateway, gateway ? `HTTP ${status}` : undefined);
    if (gateway && exchange.retrySafe && this.race.hasFallback(exchange, this)) {
      // Read and drop the body (the connection stays reusable); another target answers.
      this.race.counters.retry(name, status);
      this.dropping = true;
      this.race.drop(exchange, this, `HTTP ${status}`);
      return true;
    }
    if (exchange.settled) {
      // Another attempt answered first (or the client left): this one is not needed.
      this.cancel();
      return false;
    }
    this.race.win(exchange, this);
    this.race.counters.request(name, status, (performance.now() - exchange.started) / 1000);
    const headers = responseHeaders(raw, name);
    let length = -1;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') {
        length = Number(headers[i + 1]);
      }
    }
    try {
      // Small answers (inference results) are relayed in one write with their headers.
      if (length >= 0 && length <= SMALL_BODY_BYTES) {
        res.writeHead(status, headers);
        this.chunks = [];
        return true;
      }
      res.writeHead(status, headers);
      res.flushHeaders();
    } catch {
      // An upstream header Node refuses to send: answer 502 rather than crash.
      this.cancel();
      jsonError(res, 502, { error: 'bad_gateway', target: name, message: 'invalid headers' });
      return false;
    }
    this.streaming = true;
    res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.dropping) return true;
    if (this.chunks) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      return true;
    }
    return this.exchange.res.write(chunk);
  }

  onComplete(): void {
    if (this.cancelled || this.dropping) return;
    const { res } = this.exchange;
    if (this.chunks) {
      res.end(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size));
    } else {
      res.end();
    }
  }
}
