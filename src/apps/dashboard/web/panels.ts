/** The dashboard's list panels: recent events, data sync per item and target, the rollout. */
import { html } from 'htm/preact';
import type { EventView, RolloutView, SyncView } from '../state.js';
import { fmtBytes, fmtTime } from './format.js';

export function Events(props: { events: EventView[] }) {
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

export function Sync(props: { sync: SyncView[] }) {
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
export function Rollout(props: { rollout: RolloutView }) {
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
