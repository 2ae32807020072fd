/**
 * Log lines for `mcml serve`'s model downloads, so an operator watching a replica fetch tens of
 * GB sees it move: one line when a file starts, one every few seconds with the bytes, rate and
 * time left, one when it is in place.
 */
import type { Logger } from 'pino';
import { redactUri } from '../../core/storage-uri.js';
import type { DownloadProgress } from './download.js';

const MIB = 1024 * 1024;

export function downloadLogger(
  log: Logger,
  model: string,
  options: { everyMs?: number; now?: () => number } = {},
): (p: DownloadProgress) => void {
  const everyMs = options.everyMs ?? 5000;
  const now = options.now ?? Date.now;
  const started = new Map<string, { at: number; logged: number }>();
  return (p) => {
    const t = now();
    const source = redactUri(p.uri);
    let s = started.get(p.uri);
    if (!s) {
      s = { at: t, logged: t };
      started.set(p.uri, s);
      log.info({ model, source, total: p.total }, 'downloading model');
    }
    const seconds = Math.max((t - s.at) / 1000, 0.001);
    const mibPerSecond = +(p.bytes / MIB / seconds).toFixed(1);
    if (p.done) {
      started.delete(p.uri);
      log.info(
        { model, source, bytes: p.bytes, seconds: +seconds.toFixed(2), mibPerSecond },
        'downloaded model',
      );
      return;
    }
    if (t - s.logged < everyMs) return;
    s.logged = t;
    const rate = p.bytes / seconds;
    log.info(
      {
        model,
        source,
        bytes: p.bytes,
        total: p.total,
        percent: +((100 * p.bytes) / Math.max(p.total, 1)).toFixed(1),
        mibPerSecond,
        etaSeconds: rate > 0 ? Math.round((p.total - p.bytes) / rate) : undefined,
      },
      'downloading model',
    );
  };
}
