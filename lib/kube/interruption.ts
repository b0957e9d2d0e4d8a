// What a request does when the run is interrupted (Ctrl-C, SIGTERM, stdout closed). A read in
// flight is abandoned at once: it changes nothing. A write in flight gets a short grace to be
// answered, so the run stops between objects. What the run sends to wind down (the lock's release,
// a last read for the table) is bounded too: against an API server that never answers, the run
// still ends within seconds; against a slow or frozen one, its lock is still let go.

/** How long a write in flight when the run is interrupted may still take. */
export const inFlightGraceMs = 1_000;
/** How long each request sent after the interruption (winding down) may take, retries included. */
export const windDownMs = 1_000;
/**
 * When a run is ended whatever it waits on: a Ctrl-C ends a run within a second or two. An API
 * server too slow or frozen to take the lock's release then keeps the lease: a later run on this
 * machine takes it over at once (its holder's process is gone), elsewhere after the lease's 30 s.
 */
export const interruptBackstopMs = 2_500;

/** Requests that ask the API server a question and change nothing, though they are POSTs. */
const reviews =
  /\/apis\/authorization\.k8s\.io\/v1\/selfsubject\w*reviews$|\/apis\/authentication\.k8s\.io\/v1\/selfsubjectreviews$/;

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

  /**
   * What cancels a request already in flight at the interruption: a read at once, a write after
   * the grace. An access review is a POST that changes nothing: a read.
   */
  inFlight(method: string, path = ''): AbortSignal | undefined {
    if (this.signal.aborted) return undefined;
    const read = method === 'GET' || reviews.test(path);
    return read ? AbortSignal.any([this.signal, this.grace.signal]) : this.grace.signal;
  }
}
