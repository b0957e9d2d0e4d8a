import type http from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

// The waits before an answer, bounded as kubectl's transport (client-go) bounds them: dialling
// 30 s, the TLS handshake 10 s; and the response headers 45 s, the time client-go's HTTP/2 health
// check takes to give up on a silent connection (30 s without a frame, then 15 s for a ping).
// An endpoint that accepts connections and never answers (a hung proxy, a frozen API server)
// then fails the request in one line instead of holding the run for ever.

export const phaseBoundsMs = { connect: 30_000, tlsHandshake: 10_000, responseHeaders: 45_000 };

/** A phase that did not end in time: not retried, since the same silent endpoint would be asked again. */
export class PhaseTimeoutError extends Error {
  readonly code = 'VW_PHASE_TIMEOUT';
}

/** Sockets whose TLS handshake is done: a kept-alive socket is not timed again. */
const handshaken = new WeakSet<Socket>();

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

/**
 * Times a request's phases: until a connection (through a proxy's CONNECT too), then its TLS
 * handshake, then the response headers. `capMs` (what is left of --request-timeout) shortens each.
 */
export function boundPhases(req: http.ClientRequest, capMs = Number.POSITIVE_INFINITY) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const phase = (ms: number, what: string) => {
    clearTimeout(timer);
    const bound = Math.min(ms, capMs);
    timer = setTimeout(() => req.destroy(new PhaseTimeoutError(`${what} within ${seconds(bound)}`)), bound);
    timer.unref?.();
  };
  const headers = () => phase(phaseBoundsMs.responseHeaders, 'no response');
  const handshake = (s: Socket) => {
    if (!(s instanceof TLSSocket) || handshaken.has(s)) return headers();
    phase(phaseBoundsMs.tlsHandshake, 'no TLS handshake');
    s.once('secureConnect', () => {
      handshaken.add(s);
      headers();
    });
  };
  phase(phaseBoundsMs.connect, 'no connection');
  req.once('socket', (s: Socket) => {
    if (s.connecting) s.once('connect', () => handshake(s));
    else handshake(s);
  });
  const done = () => clearTimeout(timer);
  req.once('response', done);
  req.once('close', done);
}
