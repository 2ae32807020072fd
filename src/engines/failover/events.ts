/**
 * The failover event log: every state change, switch of the active target, DNS write and
 * admin action, as objects to subscribers and as JSON lines to a file when asked.
 */
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

/** One line of the event log. `time` is ISO 8601; the rest depends on `type`. */
export interface FailoverLogEntry {
  time: string;
  type: string;
  [key: string]: unknown;
}

export class EventLog extends EventEmitter<{ event: [FailoverLogEntry] }> {
  private readonly file: WriteStream | undefined;
  private readonly recent: FailoverLogEntry[] = [];

  /** @param file path of a JSON-lines file to append to, if any. */
  constructor(file?: string) {
    super();
    if (file !== undefined) {
      this.file = createWriteStream(file, { flags: 'a' });
      // A full disk must not take the front door down; the log is best effort.
      this.file.on('error', () => undefined);
    }
  }

  record(type: string, at: number, fields: Record<string, unknown> = {}): FailoverLogEntry {
    const entry: FailoverLogEntry = { time: new Date(at).toISOString(), type, ...fields };
    this.recent.push(entry);
    if (this.recent.length > 200) this.recent.shift();
    this.file?.write(JSON.stringify(entry) + '\n');
    this.emit('event', entry);
    return entry;
  }

  /** The last (up to 200) entries, oldest first. */
  tail(n = 50): FailoverLogEntry[] {
    return this.recent.slice(-n);
  }

  async close(): Promise<void> {
    const file = this.file;
    if (!file) return;
    await new Promise<void>((resolve) => file.end(resolve));
  }
}
