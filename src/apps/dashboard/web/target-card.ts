/** A target's card: health, activity, replicas, traffic, cost, latency, and Fail / Restore. */
import { html } from 'htm/preact';
import type { TargetView } from '../state.js';
import { fmtMs, fmtNum, fmtUsd } from './format.js';

function healthLabel(t: TargetView): { cls: string; text: string } {
  if (t.disabled) return { cls: 'failed', text: 'failed by hand' };
  return { cls: t.health, text: t.health };
}

/** One target: name, cloud and region, active and health badges, its stats and actions. */
export function TargetCard(props: {
  t: TargetView;
  busy: boolean;
  onFail: (name: string) => void;
  onRestore: (name: string) => void;
}) {
  const { t } = props;
  const health = healthLabel(t);
  const down = t.disabled || t.health === 'unhealthy';
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
      <${TargetStats} t=${t} />
      <${TargetFoot}
        t=${t}
        busy=${props.busy}
        onFail=${props.onFail}
        onRestore=${props.onRestore}
      />
    </section>
  `;
}

/** Replicas ready of desired, req/s, cost per hour, p50, p99 and error ratio. */
function TargetStats(props: { t: TargetView }) {
  const { t } = props;
  const reps = Array.from({ length: Math.max(t.replicas.desired, t.replicas.ready) }, (_, i) =>
    i < t.replicas.ready ? 'rep' : 'rep no',
  );
  return html`
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
  `;
}

/** Tier, instance, capacity and restarts; Fail, or Restore for a target failed by hand. */
function TargetFoot(props: {
  t: TargetView;
  busy: boolean;
  onFail: (name: string) => void;
  onRestore: (name: string) => void;
}) {
  const { t } = props;
  return html`
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
  `;
}
