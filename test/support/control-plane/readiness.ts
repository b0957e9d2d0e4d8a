import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyPair } from './certs';
import { type Daemon, logTail } from './processes';

export interface Probe {
  url: string;
  /** TLS: the CA to trust and the client certificate to present; omitted for plain http. */
  ca?: string;
  client?: KeyPair;
  /** For components that serve a self-signed certificate (kube-controller-manager). */
  insecure?: boolean;
}

/** Status code and body of one GET, or the connection error's message. */
function get(probe: Probe): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const url = new URL(probe.url);
    const options = {
      timeout: 2000,
      ...(url.protocol === 'https:'
        ? {
            ca: probe.ca ? readFileSync(probe.ca) : undefined,
            cert: probe.client ? readFileSync(probe.client.cert) : undefined,
            key: probe.client ? readFileSync(probe.client.key) : undefined,
            rejectUnauthorized: !probe.insecure,
          }
        : {}),
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

/**
 * Polls the probe until it answers 200. Fails at the deadline, or as soon as the process exits,
 * with the tail of its log: a component that cannot start says why in its last lines.
 */
export async function waitUntilReady(daemon: Daemon, probe: Probe, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (daemon.exited !== undefined) {
      throw new Error(
        `${daemon.name} exited (${daemon.exited}) before ${probe.url} was ready. Last lines of ${daemon.logFile}:\n${logTail(daemon)}`,
      );
    }
    const answer = await get(probe);
    if ('status' in answer && answer.status === 200) return;
    last = 'status' in answer ? `HTTP ${answer.status}: ${answer.body.slice(0, 500)}` : answer.error;
    if (Date.now() > deadline) {
      throw new Error(
        `${daemon.name} not ready at ${probe.url} after ${timeoutMs / 1000}s (last answer: ${last}). Last lines of ${daemon.logFile}:\n${logTail(daemon)}`,
      );
    }
    await sleep(200);
  }
}
