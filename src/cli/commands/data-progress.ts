/**
 * Progress of a sync in bytes, with a rate over the last seconds and an ETA: a bar on a
 * terminal, or (with --json) one JSON line per second on stderr, so scripts and CI logs see a
 * multi-GB copy move. Fed by the engine's events; prints nothing for syncs under a second.
 */
import type { SyncEvent } from '../../engines/sync/index.js';

/** Where the transfer stands, for display. */
export interface ProgressSnapshot {
  type: 'progress';
  bytes: number;
  totalBytes: number;
  objects: number;
  totalObjects: number;
  /** Bytes per second over the last `windowMs`. */
  rate: number;
  /** Seconds left at that rate; undefined before any byte moved. */
  etaSeconds?: number;
  elapsedSeconds: number;
}

/** Counts bytes and objects from sync events; the rate is over a sliding window. */
export class ProgressMeter {
  private bytes = 0;
  private total = 0;
  private objects = 0;
  private totalObjects = 0;
  private readonly samples: { t: number; bytes: number }[] = [];
  private readonly started: number;

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly windowMs = 10_000,
  ) {
    this.started = now();
    this.samples.push({ t: this.started, bytes: 0 });
  }

  onEvent(e: SyncEvent): void {
    if (e.type === 'planned') {
      this.total = e.bytes;
      this.totalObjects = e.objects;
    } else if (e.type === 'bytes') this.bytes += e.bytes;
    else if (e.type === 'object-done') this.objects++;
  }

  snapshot(): ProgressSnapshot {
    const t = this.now();
    this.samples.push({ t, bytes: this.bytes });
    while (this.samples.length > 2 && t - this.samples[0]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (t - first.t) / 1000;
    const rate = seconds > 0 ? (this.bytes - first.bytes) / seconds : 0;
    const left = Math.max(0, this.total - this.bytes);
    return {
      type: 'progress',
      bytes: this.bytes,
      totalBytes: this.total,
      objects: this.objects,
      totalObjects: this.totalObjects,
      rate: Math.round(rate),
      ...(rate > 0 ? { etaSeconds: Math.round(left / rate) } : {}),
      elapsedSeconds: Math.round((t - this.started) / 100) / 10,
    };
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function formatEta(s: number | undefined): string {
  if (s === undefined) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** One line for a terminal: "1.2 GiB / 2.0 GiB (60%) · 3/4 objects · 85.3 MiB/s · ETA 0m10s". */
export function progressLine(p: ProgressSnapshot): string {
  const pct = p.totalBytes > 0 ? Math.floor((100 * p.bytes) / p.totalBytes) : 100;
  return `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)} (${pct}%) · ${p.objects}/${p.totalObjects} objects · ${formatBytes(p.rate)}/s · ETA ${formatEta(p.etaSeconds)}`;
}

/** Starts reporting: a redrawn line on a TTY, JSON lines otherwise (when `json`). */
export function startProgress(options: {
  enabled: boolean;
  json: boolean;
  stream: NodeJS.WriteStream;
  intervalMs?: number;
}): { onEvent: (e: SyncEvent) => void; stop: () => void } {
  const tty = options.stream.isTTY === true;
  if (!options.enabled || (!tty && !options.json))
    return { onEvent: () => undefined, stop: () => undefined };
  const meter = new ProgressMeter();
  let drawn = false;
  const tick = () => {
    const p = meter.snapshot();
    if (options.json && !tty) options.stream.write(JSON.stringify(p) + '\n');
    else {
      options.stream.write(`\r\x1b[2K${progressLine(p)}`);
      drawn = true;
    }
  };
  const timer = setInterval(tick, options.intervalMs ?? (tty ? 250 : 1000));
  timer.unref();
  return {
    onEvent: (e) => meter.onEvent(e),
    stop: () => {
      clearInterval(timer);
      if (drawn) options.stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
