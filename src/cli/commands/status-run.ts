import { McmlError } from '../../core/errors.js';
import type { DashboardState, TargetView } from '../../apps/dashboard/state.js';
import { baseUrlFlag } from '../flags.js';
import { paint, renderTable, useColor } from '../output.js';

export interface StatusCommandOptions {
  url: string;
  json?: boolean;
  events?: string;
}

function health(t: TargetView, color: boolean): string {
  if (t.disabled) return paint('red', 'failed by hand', color);
  const style =
    t.health === 'healthy'
      ? 'green'
      : t.health === 'unhealthy'
        ? 'red'
        : t.health === 'suspect'
          ? 'yellow'
          : 'cyan';
  return paint(style, t.health, color);
}

function ms(n: number | undefined): string {
  return n === undefined ? '-' : n < 10 ? n.toFixed(1) : String(Math.round(n));
}

function price(x: number): string {
  return x < 1 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
}

/** Renders the state of a running `mcml up` for the terminal. */
export function formatStatus(state: DashboardState, color: boolean, events = 8): string {
  const lines: string[] = [];
  const up = Math.round((state.now - state.startedAt) / 1000);
  lines.push(
    `${paint('bold', state.service, color)} · front door ${state.frontDoor} · routing ${state.routing} · up ${up}s`,
  );
  lines.push(
    `Active: ${state.active ? paint(['bold', 'green'], state.active, color) : paint(['bold', 'red'], 'none (no healthy target)', color)}` +
      ` · ${state.totals.rps.toFixed(1)} req/s · ${price(state.totals.hourly)}/h`,
  );
  lines.push('');
  lines.push(
    renderTable(state.targets, [
      { header: 'TIER', value: (t) => String(t.tier), align: 'right' },
      { header: 'TARGET', value: (t) => (t.active ? `${t.name} *` : t.name) },
      { header: 'CLOUD/REGION', value: (t) => `${t.cloud}/${t.region}` },
      { header: 'STATE', value: (t) => health(t, color) },
      {
        header: 'REPLICAS',
        value: (t) => `${t.replicas.ready}/${t.replicas.desired}`,
        align: 'right',
      },
      { header: 'REQ/S', value: (t) => t.rps.toFixed(1), align: 'right' },
      { header: 'P50 MS', value: (t) => ms(t.p50Ms), align: 'right' },
      { header: 'P99 MS', value: (t) => ms(t.p99Ms), align: 'right' },
      { header: '$/H', value: (t) => price(t.hourly), align: 'right' },
      { header: 'PIDS', value: (t) => t.replicas.pids.join(',') || '-' },
    ]),
  );
  if (state.sync.length > 0) {
    const pending = state.sync.filter((s) => s.state !== 'done');
    lines.push('');
    lines.push(
      pending.length === 0
        ? `Sync: ${state.sync.length} item(s) up to date on every target`
        : `Sync: ${pending.map((s) => `${s.item}→${s.target} ${s.state}`).join(', ')}`,
    );
  }
  const recent = state.events.slice(-events);
  if (recent.length > 0) {
    lines.push('');
    lines.push('Recent events:');
    for (const e of recent) {
      const time = new Date(e.at).toLocaleTimeString('en-GB', { hour12: false });
      lines.push(`  ${time}  ${e.kind.padEnd(8)} ${e.message}`);
    }
  }
  return lines.join('\n');
}

export async function runStatus(options: StatusCommandOptions): Promise<void> {
  const base = baseUrlFlag(
    process.env.MCML_URL !== undefined && options.url === process.env.MCML_URL
      ? '$MCML_URL'
      : '--url',
    options.url,
  );
  const url = new URL(`${base}/_mcml/api/state`);
  const events = Number(options.events ?? '8');
  if (!Number.isInteger(events) || events < 0) {
    throw new McmlError('USAGE', `--events must be a whole number, got "${options.events}"`);
  }
  let state: DashboardState;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    state = (await res.json()) as DashboardState;
  } catch (error) {
    throw new McmlError(
      'UNAVAILABLE',
      `no mcml up answers at ${base} (${(error as Error).message})`,
      {
        hint: 'start one with "mcml up", or pass --url of the one running',
      },
    );
  }
  if (options.json) {
    process.stdout.write(JSON.stringify(state, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatStatus(state, useColor(), events) + '\n');
}
