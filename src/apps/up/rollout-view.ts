/** The dashboard's view of a rollout, kept up to date from the deploy engine's events. */
import type { DeployEvent } from '../../engines/deploy/index.js';
import type { RolloutView } from '../dashboard/state.js';

export class RolloutRecord {
  #view: RolloutView | undefined;

  /** Folds one engine event into the view. */
  record(e: DeployEvent): void {
    if (e.type === 'plan') {
      this.#view = {
        state: 'running',
        waves: e.waves.map((w) => [...w]),
        wave: 0,
        startedAt: e.at,
        targets: e.waves.flatMap((names, i) =>
          names.map((name) => ({ name, wave: i + 1, phase: 'waiting', message: '', gates: [] })),
        ),
      };
      return;
    }
    const view = this.#view;
    if (!view) return;
    const target = (name: string) => view.targets.find((t) => t.name === name);
    switch (e.type) {
      case 'wave':
        if (e.state === 'started') view.wave = e.wave;
        break;
      case 'phase': {
        const t = target(e.target);
        if (!t) break;
        t.phase = e.phase;
        t.message = e.message;
        if (e.revision !== undefined) t.revision = e.revision;
        break;
      }
      case 'progress': {
        const t = target(e.target);
        if (t) t.message = e.message;
        break;
      }
      case 'gate':
        target(e.target)?.gates.push({ ...e.result });
        break;
      case 'done':
        view.state = e.report.ok ? 'done' : e.report.interrupted ? 'interrupted' : 'failed';
        view.finishedAt = e.at;
        break;
    }
  }

  /** A copy for the state API; undefined before the rollout starts. */
  view(): RolloutView | undefined {
    const v = this.#view;
    return v && structuredClone(v);
  }
}
