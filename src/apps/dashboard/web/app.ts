/**
 * The dashboard in the browser: Preact + htm (no build step beyond tsc) and uPlot for the
 * traffic chart. State arrives over Server-Sent Events from /_mcml/api/stream (with polling
 * of /_mcml/api/state as the fallback); admin actions send the token from the URL fragment
 * (`#token=…`, as `mcml up` prints it) as a bearer header.
 */
import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { DashboardState, TrafficResult } from '../state.js';
import { adminPost, initialToken } from './admin.js';
import { CostsPanel } from './costs.js';
import { fmtNum, fmtUptime, fmtUsd } from './format.js';
import { Events, Rollout, Sync } from './panels.js';
import { TargetCard } from './target-card.js';
import { TrafficChart } from './traffic-chart.js';

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
