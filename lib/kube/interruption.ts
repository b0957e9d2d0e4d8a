// What a request does when the run is interrupted (Ctrl-C, SIGTERM, stdout closed). A read in
// flight is abandoned at once: it changes nothing. A write in flight, and whatever the run still
// sends to wind down (the lock's release, a last read for the table), get a short grace, so the
// run stops between objects when the server answers, and within seconds when it never does.

/** How long the winding down may take once interrupted. */
export const interruptGraceMs = 3_000;

export class Interruption {
  private readonly grace = new AbortController();

  constructor(
    readonly signal: AbortSignal,
    graceMs = interruptGraceMs,
  ) {
    const start = () => setTimeout(() => this.grace.abort(signal.reason), graceMs).unref?.();
    if (signal.aborted) start();
    else signal.addEventListener('abort', start, { once: true });
  }

  /** The signal a request starting now is cancelled by: a read at once, anything else after the grace. */
  forRequest(method: string): AbortSignal {
    return method === 'GET' && !this.signal.aborted
      ? AbortSignal.any([this.signal, this.grace.signal])
      : this.grace.signal;
  }
}
