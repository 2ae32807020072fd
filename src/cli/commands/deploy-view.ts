/**
 * How a rollout shows while it runs: in a terminal, one line per cluster redrawn in place
 * (wave, phase, what it waits for); otherwise one plain line per change, with a time; with
 * --json, one JSON event per line. The final report is the same table in every text mode.
 */
import type {
  DeployEvent,
  DeployReport,
  TargetOutcome,
  TargetPhase,
} from '../../engines/deploy/index.js';
import { paint, renderTable, terminalSafe } from '../output.js';

export type ViewMode = 'tty' | 'plain' | 'json';

const PHASE_STYLE: Partial<Record<TargetPhase, Parameters<typeof paint>[0]>> = {
  done: 'green',
  'rolled-back': 'yellow',
  failed: 'red',
  skipped: 'yellow',
  halted: 'gray',
  interrupted: 'yellow',
  waiting: 'gray',
};

interface Row {
  wave: number;
  phase: TargetPhase;
  message: string;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

export class DeployView {
  readonly #mode: ViewMode;
  readonly #out: NodeJS.WriteStream;
  readonly #color: boolean;
  readonly #rows = new Map<string, Row>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #waveLine = '';

  constructor(mode: ViewMode, out: NodeJS.WriteStream, color: boolean) {
    this.#mode = mode;
    this.#out = out;
    this.#color = color;
  }

  /** The engine's onEvent. */
  readonly onEvent = (event: DeployEvent): void => {
    if (this.#mode === 'json') {
      this.#out.write(JSON.stringify(event) + '\n');
      return;
    }
    if (event.type === 'plan') {
      event.waves.forEach((wave, i) => {
        for (const t of wave) this.#rows.set(t, { wave: i + 1, phase: 'waiting', message: '' });
      });
      this.#line(
        event.at,
        `plan: ${event.waves.map((w, i) => `wave ${i + 1}: ${w.join(', ')}`).join(' · ')}`,
      );
      return;
    }
    if (event.type === 'wave') {
      this.#waveLine = `wave ${event.wave} ${event.state}`;
      this.#line(event.at, `wave ${event.wave} (${event.targets.join(', ')}) ${event.state}`);
      return;
    }
    if (event.type === 'done') return;
    const row = this.#rows.get(event.target);
    if (!row) return;
    if (event.type === 'phase') {
      row.phase = event.phase;
      row.message = event.message;
      this.#line(event.at, `${event.target}  ${this.#phase(event.phase)}  ${event.message}`);
    } else if (event.type === 'progress') {
      row.message = event.message;
      this.#line(event.at, `${event.target}  ${row.phase}  ${event.message}`);
    } else {
      const r = event.result;
      this.#line(
        event.at,
        `${event.target}  ${r.gate} gate ${r.ok ? paint('green', 'passed', this.#color) : paint('red', 'failed', this.#color)}: ${r.message}`,
      );
    }
  };

  #phase(phase: TargetPhase): string {
    const style = PHASE_STYLE[phase];
    return style ? paint(style, phase, this.#color) : phase;
  }

  #line(at: number, text: string): void {
    if (this.#mode === 'plain') {
      this.#out.write(`${clock(at)}  ${terminalSafe(text)}\n`);
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, 80);
  }

  /** Redraws the live table in place (terminal mode). */
  #draw(): void {
    const width = Math.max(40, this.#out.columns || 100);
    const rows = [...this.#rows].map(([target, r]) => ({ target, ...r }));
    const table = renderTable(rows, [
      { header: 'WAVE', value: (r) => String(r.wave), align: 'right' },
      { header: 'TARGET', value: (r) => r.target },
      { header: 'PHASE', value: (r) => this.#phase(r.phase) },
      { header: 'NOW', value: (r) => terminalSafe(r.message).split('\n')[0]! },
    ]);
    const lines = [...table.split('\n'), this.#waveLine].map((l) => cut(l, width - 1));
    const up = this.#drawn > 0 ? `\u001b[${this.#drawn}A\u001b[J` : '';
    this.#out.write(up + lines.join('\n') + '\n');
    this.#drawn = lines.length;
  }

  /** Stops redrawing and prints where every cluster stands. */
  finish(report: DeployReport): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#mode === 'json') return;
    if (this.#mode === 'tty') this.#draw();
    this.#out.write('\n' + formatReport(report, this.#color) + '\n');
  }
}

/** Text cut to `width` visible characters (colour codes kept whole). */
function cut(text: string, width: number): string {
  let visible = 0;
  let out = '';
  // eslint-disable-next-line no-control-regex
  for (const part of text.split(/(\u001b\[[0-9;]*m)/)) {
    if (part.startsWith('\u001b[')) {
      out += part;
      continue;
    }
    const room = width - visible;
    if (room <= 0) continue;
    out += part.length > room ? part.slice(0, room - 1) + '…' : part;
    visible += Math.min(part.length, room);
  }
  return out;
}

function result(o: TargetOutcome, color: boolean): string {
  const style = PHASE_STYLE[o.phase];
  return style ? paint(style, o.phase, color) : o.phase;
}

/** The final table: one row per target, what happened and where the cluster stands. */
export function formatReport(report: DeployReport, color: boolean): string {
  const lines = [
    renderTable(report.targets, [
      { header: 'WAVE', value: (o) => String(o.wave), align: 'right' },
      { header: 'TARGET', value: (o) => o.target },
      { header: 'RESULT', value: (o) => result(o, color) },
      {
        header: 'REVISION',
        value: (o) => (o.revision === undefined ? '-' : String(o.revision)),
        align: 'right',
      },
      { header: 'STATE', value: (o) => terminalSafe(o.state) },
    ]),
  ];
  for (const o of report.targets) {
    if (!o.error) continue;
    lines.push(`${paint('red', o.target, color)}: ${terminalSafe(o.error.message)}`);
    if (o.error.hint)
      lines.push(`  ${paint('cyan', 'hint', color)}: ${terminalSafe(o.error.hint)}`);
  }
  return lines.join('\n');
}
