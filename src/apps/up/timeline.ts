/** The event timeline of one `mcml up`: the last few hundred events, and who wants to know. */
import type { EventView } from '../dashboard/state.js';

const MAX_EVENTS = 300;

export class Timeline {
  readonly #events: EventView[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #onEvent: ((event: EventView) => void) | undefined;

  constructor(onEvent?: (event: EventView) => void) {
    this.#onEvent = onEvent;
  }

  add(event: EventView): void {
    this.#events.push(event);
    if (this.#events.length > MAX_EVENTS) {
      this.#events.splice(0, this.#events.length - MAX_EVENTS);
    }
    this.#onEvent?.(event);
    this.changed();
  }

  /** Tells listeners something worth pushing changed (an event, a rollout phase). */
  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  events(): EventView[] {
    return [...this.#events];
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
