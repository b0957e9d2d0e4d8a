// What a request does when the run is interrupted (Ctrl-C, SIGTERM, stdout closed). A read in
// flight is abandoned at once: it changes nothing. A write in flight gets a short grace to be
// answered, so the run stops between objects. What the run sends to wind down (the lock's release,
// a last read for the table) is bounded too: against an API server that never answers, the run
// still ends within seconds; against a slow or frozen one, its lock is still let go.

/** How long a write in flight when the run is interrupted may still take. */
export const inFlightGraceMs = 3_000;
/** How long each request sent after the interruption (winding down) may take, retries included. */
export const windDownMs = 5_000;
/** When a run is ended whatever it waits on: past both of the above. */
export const interruptBackstopMs = 10_000;

export class Interruption {
  private readonly grace = new AbortController();

  constructor(readonly signal: AbortSignal) {
    const start = () => setTimeout(() => this.grace.abort(signal.reason), inFlightGraceMs).unref?.();
    if (signal.aborted) start();
    else signal.addEventListener('abort', start, { once: true });
  }

  /** The run has been interrupted: a request starting now is winding down. */
  get interrupted(): boolean {
    return this.signal.aborted;
  }

  /** What cancels a request already in flight at the interruption: a read at once, a write after the grace. */
  inFlight(method: string): AbortSignal | undefined {
    if (this.signal.aborted) return undefined;
    return method === 'GET' ? AbortSignal.any([this.signal, this.grace.signal]) : this.grace.signal;
  }
}
