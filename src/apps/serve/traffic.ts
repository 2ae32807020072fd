/**
 * The server's open connections and requests in flight, so that a drain can tell clients
 * (`Connection: close`) and wait until every request is answered.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class Traffic {
  /** Requests whose response has not closed yet. */
  inFlight = 0;
  readonly sockets = new Set<Socket>();
  /** Responses not yet finished: they learn of a drain through `Connection: close`. */
  private readonly responses = new Set<ServerResponse>();
  private draining = false;
  /** Called while draining whenever a request finishes or a connection closes. */
  private progress: (() => void) | undefined;

  constructor(server: Server) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        this.progress?.();
      });
    });
  }

  /** Counts a request until its response closes; `closed` runs then. */
  track(res: ServerResponse, closed: () => void): void {
    this.inFlight++;
    this.responses.add(res);
    res.once('close', () => {
      this.inFlight--;
      this.responses.delete(res);
      closed();
      this.progress?.();
    });
    if (this.draining) res.setHeader('Connection', 'close');
  }

  /** From now on every response that has not started says `Connection: close`. */
  startDraining(): void {
    this.draining = true;
    for (const res of this.responses) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Resolves true once no request is in flight and every connection has closed or has had
   * `graceMs` to bring one; false when `timeoutMs` passes first.
   */
  drained(graceMs: number, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let graceOver = false;
      const finish = (clean: boolean) => {
        this.progress = undefined;
        clearTimeout(grace);
        clearTimeout(deadline);
        resolve(clean);
      };
      const check = () => {
        if (this.inFlight === 0 && (this.sockets.size === 0 || graceOver)) finish(true);
      };
      const grace = setTimeout(() => {
        graceOver = true;
        check();
      }, graceMs);
      const deadline = setTimeout(() => finish(false), timeoutMs);
      this.progress = check;
      check();
    });
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
