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
 * Ends a request: Node reports a request destroyed before it has a socket only once it gets one,
 * which a proxy that never answers its CONNECT never gives. The caller hears of it at once.
 */
export function endRequest(req: http.ClientRequest, err: Error, tell: (err: Error) => void) {
  tell(err);
  req.destroy(err);
}

/** A proxy as a message may name it: without the credentials its URL may carry. */
export function proxyForMessages(proxyUrl: string | undefined): string | undefined {
  if (!proxyUrl) return undefined;
  try {
    const u = new URL(proxyUrl);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'the proxy';
  }
}

/**
 * Times a request's phases: until a connection (through the proxy, `via`, its CONNECT too), then
 * its TLS handshake, then the response headers; `fail` hears of a phase that did not end in time.
 */
export function boundPhases(req: http.ClientRequest, fail: (err: Error) => void, via?: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const phase = (ms: number, what: string) => {
    clearTimeout(timer);
    const message = `${what} within ${seconds(ms)}${via && what === 'no connection' ? ` through proxy ${via}` : ''}`;
    timer = setTimeout(() => endRequest(req, new PhaseTimeoutError(message), fail), ms);
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
