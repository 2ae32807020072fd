/** How the dashboard writes numbers, money, sizes and times. */

export function fmtNum(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toString() : n.toFixed(digits);
}

export function fmtMs(n: number | undefined): string {
  if (n === undefined) return '–';
  return n < 10 ? n.toFixed(1) : Math.round(n).toString();
}

export function fmtUsd(n: number): string {
  if (n !== 0 && Math.abs(n) < 1) return `$${n.toFixed(4)}`;
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function fmtUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

export function fmtTime(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}
