/**
 * The dashboard in the browser: Preact + htm (no build step beyond tsc) and uPlot for the
 * traffic chart. State arrives over Server-Sent Events from /_mcml/api/stream (with polling
 * of /_mcml/api/state as the fallback); admin actions send the token from the URL fragment
 * (`#token=…`, as `mcml up` prints it) as a bearer header.
 */
import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type {
  DashboardState,
  EventView,
  RolloutView,
  SyncView,
  TargetView,
  TrafficResult,
} from '../state.js';
import { CostsPanel } from './costs.js';

const TOKEN_KEY = 'mcml-admin-token';
const PALETTE = ['#7c5cff', '#22d3ee', '#f472b6', '#facc15', '#34d399', '#fb923c'];
const CLOUD_COLOR: Record<string, string> = {
  aws: '#ff9900',
  gcp: '#34d399',
  azure: '#38bdf8',
  local: '#a78bfa',
};

/** Takes the token from the fragment once, keeps it for the tab, and hides it from the URL. */
function initialToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m?.[1]) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function adminToken(): string | null {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) return stored;
  const asked = prompt('Admin token (mcml up prints it, or see .mcml/admin-token)');
  if (asked) sessionStorage.setItem(TOKEN_KEY, asked.trim());
  return asked?.trim() || null;
}

async function adminPost(path: string, body?: unknown): Promise<unknown> {
  const token = adminToken();
  if (!token) throw new Error('an admin token is needed for this action');
  const res = await fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const payload = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Error('the admin token was refused; reload with the URL mcml up printed');
  }
  if (!res.ok) throw new Error(payload.error ?? `HTTP ${res.status}`);
  return payload;
}

function fmtNum(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n >= 100 ? Math.round(n).toString() : n.toFixed(digits);
}

function fmtMs(n: number | undefined): string {
  if (n === undefined) return '–';
  return n < 10 ? n.toFixed(1) : Math.round(n).toString();
}

function fmtUsd(n: number): string {
  if (n !== 0 && Math.abs(n) < 1) return `$${n.toFixed(4)}`;
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function fmtUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

function fmtTime(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

function seriesColors(targets: TargetView[]): Record<string, string> {
  const byCloud = new Map<string, number>();
  for (const t of targets) byCloud.set(t.cloud, (byCloud.get(t.cloud) ?? 0) + 1);
  const colors: Record<string, string> = {};
  targets.forEach((t, i) => {
    const cloud = CLOUD_COLOR[t.cloud];
    colors[t.name] = cloud && byCloud.get(t.cloud) === 1 ? cloud : PALETTE[i % PALETTE.length]!;
  });
  return colors;
}

function healthLabel(t: TargetView): { cls: string; text: string } {
  if (t.disabled) return { cls: 'failed', text: 'failed by hand' };
  return { cls: t.health, text: t.health };
}

function TargetCard(props: {
  t: TargetView;
  busy: boolean;
  onFail: (name: string) => void;
  onRestore: (name: string) => void;
}) {
  const { t } = props;
  const health = healthLabel(t);
  const down = t.disabled || t.health === 'unhealthy';
  const reps = Array.from({ length: Math.max(t.replicas.desired, t.replicas.ready) }, (_, i) =>
    i < t.replicas.ready ? 'rep' : 'rep no',
  );
  return html`
    <section
      class=${`card ${t.active ? 'is-active' : ''} ${down ? 'is-down' : ''}`}
      data-target=${t.name}
      data-health=${t.health}
      data-active=${String(t.active)}
    >
      <div class="top">
        <div>
          <h2>${t.name}</h2>
          <div class="sub">
            <span class=${`cloud ${t.cloud}`}>${t.cloud}</span>
            <span>${t.region}</span>
          </div>
        </div>
        <div class="badges">
          ${
            t.active
              ? html`<span class="pill active" data-testid="active-badge"
                  ><span class="dot"></span>active</span
                >`
              : null
          }
          <span class=${`pill ${health.cls}`} data-testid="health"
            ><span class="dot"></span>${health.text}</span
          >
        </div>
      </div>
      <div class="stats">
        <div class="stat">
          <div class="k">replicas</div>
          <div class="v">${t.replicas.ready}<small>/ ${t.replicas.desired}</small></div>
          <div class="replicas">${reps.map((c) => html`<span class=${c}></span>`)}</div>
        </div>
        <div class="stat">
          <div class="k">req/s</div>
          <div class="v">${fmtNum(t.rps)}</div>
        </div>
        <div class="stat">
          <div class="k">cost</div>
          <div class="v">${fmtUsd(t.hourly)}<small>/h</small></div>
        </div>
        <div class="stat">
          <div class="k">p50</div>
          <div class="v">${fmtMs(t.p50Ms)}<small>ms</small></div>
        </div>
        <div class="stat">
          <div class="k">p99</div>
          <div class="v">${fmtMs(t.p99Ms)}<small>ms</small></div>
        </div>
        <div class="stat">
          <div class="k">errors</div>
          <div class="v">
            ${(t.errorRatio * 100).toFixed(t.errorRatio > 0 ? 1 : 0)}<small>%</small>
          </div>
        </div>
      </div>
      <div class="foot">
        <span class="meta" title=${t.lastError ?? ''}>
          <span class="pill tier">tier ${t.tier}${t.tier === 1 ? ' · primary' : ''}</span>
          ${' '}${t.instanceType}${t.capacity === 'on-demand' ? '' : ` · ${t.capacity}`}
          ${t.replicas.restarts > 0 ? ` · ${t.replicas.restarts} restarts` : ''}
        </span>
        ${
          t.disabled
            ? html`<button
                class="good"
                disabled=${props.busy}
                onClick=${() => props.onRestore(t.name)}
              >
                Restore
              </button>`
            : html`<button
                class="danger"
                disabled=${props.busy}
                onClick=${() => props.onFail(t.name)}
              >
                Fail
              </button>`
        }
      </div>
    </section>
  `;
}

function TrafficChart(props: { state: DashboardState }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = props.state.targets.map((t) => t.name);
  const colors = seriesColors(props.state.targets);
  const key = names.join(',');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = {
      stroke: '#8a93a6',
      grid: { stroke: '#1b2233', width: 1 },
      ticks: { stroke: '#1b2233', width: 1 },
      font: '11px ui-sans-serif, system-ui',
    };
    const opts: uPlot.Options = {
      width: el.clientWidth,
      height: 230,
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } },
      axes: [
        {
          ...axis,
          space: 90,
          values: (_u: uPlot, splits: number[]) =>
            splits.map((s) =>
              new Date(s * 1000).toLocaleTimeString([], {
                hour12: false,
                hour: '2-digit',
                minute: '2-digit',
                second: '2-digit',
              }),
            ),
        },
        { ...axis, size: 44 },
      ],
      series: [
        {},
        ...names.map((name) => ({
          label: name,
          stroke: colors[name]!,
          width: 2,
          fill: `${colors[name]!}22`,
          points: { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, [[], ...names.map(() => [])], el);
    plot.current = u;
    const resize = () => u.setSize({ width: el.clientWidth, height: 230 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      u.destroy();
      plot.current = null;
    };
  }, [key]);

  useEffect(() => {
    const { traffic } = props.state;
    plot.current?.setData([traffic.t, ...names.map((n) => traffic.series[n] ?? [])]);
  });

  return html`
    <div class="card">
      <div class="panel-title">
        Traffic by target <span class="spacer"></span
        ><span class="muted">req/s, last ${props.state.traffic.t.length} s</span>
      </div>
      <div class="chart" ref=${box}></div>
      <div class="legend">
        ${names.map((n) => html`<span><i style=${`background:${colors[n]}`}></i>${n}</span>`)}
      </div>
    </div>
  `;
}

function Events(props: { events: EventView[] }) {
  const recent = props.events.slice(-60).reverse();
  return html`
    <div class="card">
      <div class="panel-title">Events</div>
      <ul class="events" data-testid="events">
        ${recent.length === 0 ? html`<li class="muted">nothing yet</li>` : null}
        ${recent.map(
          (e) =>
            html`<li class=${e.level}>
              <time>${fmtTime(e.at)}</time><span class="mark"></span>
              <span><span class="kind">${e.kind}</span>${e.message}</span>
            </li>`,
        )}
      </ul>
    </div>
  `;
}

function Sync(props: { sync: SyncView[] }) {
  return html`
    <div class="card">
      <div class="panel-title">Data sync</div>
      ${
        props.sync.length === 0
          ? html`<div class="muted">no data sets in the spec</div>`
          : html`<table data-testid="sync">
              <thead>
                <tr>
                  <th>item</th>
                  <th>target</th>
                  <th>state</th>
                  <th>objects</th>
                  <th>bytes</th>
                </tr>
              </thead>
              <tbody>
                ${props.sync.map(
                  (s) =>
                    html`<tr title=${s.message ?? ''}>
                      <td>${s.item}</td>
                      <td>${s.target}</td>
                      <td class=${`state-${s.state}`}>${s.state}</td>
                      <td>${s.objects}</td>
                      <td>${fmtBytes(s.bytes)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </div>
  `;
}

/** The rollout through the deploy engine: waves in order, each target's phase and gates. */
function Rollout(props: { rollout: RolloutView }) {
  const r = props.rollout;
  const phaseClass = (phase: string) =>
    phase === 'done'
      ? 'state-done'
      : phase === 'failed' || phase === 'rolled-back'
        ? 'state-failed'
        : phase === 'waiting' ||
            phase === 'halted' ||
            phase === 'skipped' ||
            phase === 'interrupted'
          ? 'state-skipped'
          : 'state-syncing';
  return html`
    <div class="card" data-testid="rollout" data-state=${r.state}>
      <div class="panel-title">
        Rollout ·
        <span class=${phaseClass(r.state === 'running' ? 'rolling' : r.state)}>${r.state}</span>
        <span class="muted"> · wave ${r.wave} of ${r.waves.length}</span>
      </div>
      <table>
        <thead>
          <tr>
            <th>wave</th>
            <th>target</th>
            <th>phase</th>
            <th>rev</th>
            <th>gates</th>
          </tr>
        </thead>
        <tbody>
          ${r.targets.map(
            (t) =>
              html`<tr data-rollout-target=${t.name} data-phase=${t.phase} title=${t.message}>
                <td>${t.wave}</td>
                <td>${t.name}</td>
                <td class=${phaseClass(t.phase)}>${t.phase}</td>
                <td>${t.revision ?? ''}</td>
                <td>
                  ${t.gates.length === 0 ? html`<span class="muted">—</span>` : null}
                  ${t.gates.map(
                    (g) =>
                      html`<div
                        class=${g.ok ? 'state-done' : 'state-failed'}
                        data-gate=${g.gate}
                        data-ok=${String(g.ok)}
                      >
                        ${g.ok ? '✓' : '✗'} ${g.gate}: ${g.message}
                      </div>`,
                  )}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  `;
}

/**
 * The dashboard: header, a card per target, traffic and events, sync and the front door,
 * rollout, costs. The front door card stays inline: htm keeps the indentation inside a
 * multi-line text, so moving it to a component would change the page's text.
 */
function App() {
  const { state, connected } = useLiveState();
  const { busy, toast, fail, restore, traffic } = useAdminActions();
  if (!state) return html`<div class="boot">connecting to mcml…</div>`;
  return html`
    <div class="wrap">
      <${Header} state=${state} connected=${connected} busy=${busy} onTraffic=${traffic} />
      <div class="grid">
        ${state.targets.map(
          (t) =>
            html`<${TargetCard}
              key=${t.name}
              t=${t}
              busy=${busy}
              onFail=${fail}
              onRestore=${restore}
            />`,
        )}
      </div>
      <div class="row2">
        <${TrafficChart} state=${state} />
        <${Events} events=${state.events} />
      </div>
      <div class="row2">
        <${Sync} sync=${state.sync} />
        <div class="card">
          <div class="panel-title">Front door</div>
          <dl class="facts">
            <dt>inference</dt>
            <dd><code>POST ${state.frontDoor}/v2/models/${state.model}/infer</code></dd>
            <dt>routing</dt>
            <dd>${state.routing} · tiers ${state.targets.map((t) => t.name).join(' → ')}</dd>
            <dt>metrics</dt>
            <dd>
              <code>${state.frontDoor}/metrics</code> (every replica, labelled by cloud and target)
            </dd>
            <dt>plan</dt>
            <dd>
              ${fmtUsd(state.totals.hourly)}/h · ${fmtUsd(state.totals.monthly)}/month at minimum
              replicas
            </dd>
          </dl>
          ${
            state.model === 'iris'
              ? html`<pre class="try">
curl -s ${state.frontDoor}/v2/models/${state.model}/infer \\
  -d '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}'</pre>`
              : null
          }
        </div>
      </div>
      ${state.rollout ? html`<div style="margin-top:14px"><${Rollout} rollout=${state.rollout} /></div>` : null}
      ${state.costs ? html`<div style="margin-top:14px"><${CostsPanel} costs=${state.costs} /></div>` : null}
      ${toast ? html`<div class=${`toast ${toast.error ? 'error' : ''}`} role="status">${toast.text}</div>` : null}
    </div>
  `;
}

/**
 * The state pushed over Server-Sent Events; while the stream is down (EventSource reconnects
 * by itself), polled every 2 s so the page keeps moving.
 */
function useLiveState(): { state: DashboardState | null; connected: boolean } {
  const [state, setState] = useState<DashboardState | null>(null);
  const [connected, setConnected] = useState(true);
  useEffect(() => {
    initialToken();
    let poll: number | undefined;
    const source = new EventSource('/_mcml/api/stream');
    source.addEventListener('state', (e) => {
      setConnected(true);
      setState(JSON.parse((e as MessageEvent<string>).data) as DashboardState);
    });
    source.onerror = () => {
      setConnected(false);
      // EventSource reconnects by itself; poll meanwhile so the page keeps moving.
      poll ??= window.setInterval(() => {
        fetch('/_mcml/api/state')
          .then((r) => r.json() as Promise<DashboardState>)
          .then((s) => setState(s))
          .catch(() => undefined);
      }, 2000);
    };
    source.onopen = () => {
      setConnected(true);
      if (poll !== undefined) window.clearInterval(poll);
      poll = undefined;
    };
    return () => source.close();
  }, []);
  return { state, connected };
}

interface Toast {
  text: string;
  error: boolean;
}

/** Fail, restore and test traffic: one at a time (busy), each ending in a 4-second toast. */
function useAdminActions() {
  const [busy, setBusy] = useState(false);
  const [toast, setToast] = useState<Toast | null>(null);

  useEffect(() => {
    if (!toast) return;
    const timer = window.setTimeout(() => setToast(null), 4000);
    return () => window.clearTimeout(timer);
  }, [toast]);

  const act = async (label: string, run: () => Promise<string>) => {
    setBusy(true);
    try {
      setToast({ text: await run(), error: false });
    } catch (error) {
      setToast({ text: `${label}: ${(error as Error).message}`, error: true });
    } finally {
      setBusy(false);
    }
  };
  const fail = (name: string) =>
    act(`fail ${name}`, async () => {
      await adminPost(`/_mcml/api/targets/${encodeURIComponent(name)}/fail`);
      return `${name} taken out of rotation`;
    });
  const restore = (name: string) =>
    act(`restore ${name}`, async () => {
      await adminPost(`/_mcml/api/targets/${encodeURIComponent(name)}/restore`);
      return `${name} restored`;
    });
  const traffic = () =>
    act('test traffic', async () => {
      const r = (await adminPost('/_mcml/api/traffic', { count: 100 })) as TrafficResult;
      const where = Object.entries(r.byTarget)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return `${r.ok}/${r.sent} ok in ${r.ms} ms${where ? ` → ${where}` : ''}`;
    });
  return { busy, toast, fail, restore, traffic };
}

/** The service, whether the stream is live, the headline numbers and the test-traffic button. */
function Header(props: {
  state: DashboardState;
  connected: boolean;
  busy: boolean;
  onTraffic: () => void;
}) {
  const { state, connected } = props;
  const up = state.targets.filter((t) => !t.disabled && t.health === 'healthy').length;
  return html`
    <header>
      <div class="brand">
        <span class="logo"
          ><svg width="18" height="18" viewBox="0 0 32 32">
            <path
              d="M5 24V8l6 9 5-9 5 9 6-9v16"
              stroke="#fff"
              stroke-width="3.2"
              fill="none"
              stroke-linejoin="round"
            /></svg
        ></span>
        <span>mcml <small>${state.service}</small></span>
      </div>
      <span class=${`conn ${connected ? '' : 'lost'}`}
        ><span class="dot"></span>${connected ? 'live' : 'reconnecting'}</span
      >
      <span class="spacer"></span>
      <div class="kpis">
        <div class="kpi">
          <div class="k">active</div>
          <div class=${`v ${state.active ? 'active' : 'down'}`} data-testid="active-target">
            ${state.active ?? 'none'}
          </div>
        </div>
        <div class="kpi">
          <div class="k">healthy</div>
          <div class="v">${up} / ${state.targets.length}</div>
        </div>
        <div class="kpi">
          <div class="k">req/s</div>
          <div class="v" data-testid="total-rps">${fmtNum(state.totals.rps)}</div>
        </div>
        <div class="kpi">
          <div class="k">cost</div>
          <div class="v">${fmtUsd(state.totals.hourly)}<small class="muted">/h</small></div>
        </div>
        <div class="kpi">
          <div class="k">uptime</div>
          <div class="v">${fmtUptime(state.now - state.startedAt)}</div>
        </div>
      </div>
      <button
        class="primary"
        disabled=${props.busy}
        onClick=${props.onTraffic}
        data-testid="send-traffic"
      >
        Send test traffic
      </button>
    </header>
  `;
}

const root = document.getElementById('app');
if (root) render(html`<${App} />`, root);
