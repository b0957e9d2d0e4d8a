import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

// A plain-HTTP front for the test API server whose answers a test decides request by request:
// forward (with the admin's credentials), answer itself, delay, or end a watch with an in-band
// ERROR event. Every request is logged with its time, for asserting spacing and counts.

export interface Seen {
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
  /** The bearer token the client sent (with passCredentials), to tell apart who asked. */
  token?: string;
  /** A write's body, as sent (a create's object name is in it). */
  body?: string;
  /** The API server's answer, once it came. */
  status?: number;
}

export type Decision =
  /** dropResponse: the server applies the request; the client sees its connection reset instead of the answer. */
  | { forward: true; delayMs?: number; dropResponse?: boolean }
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { watchError: number };

export async function startForwardProxy(
  adminKubeconfig: string,
  decide: (req: Seen) => Decision = () => ({ forward: true }),
  /**
   * passCredentials: forward the client's own bearer token instead of acting as the admin. tls:
   * serve HTTPS with this certificate (client-go sends no credentials to a plain-HTTP server).
   */
  opts: { passCredentials?: boolean; tls?: { cert: string; key: string } } = {},
) {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const upstream = new URL(kc.getCurrentCluster()?.server ?? '');
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({
    keepAlive: true,
    ca: tls.ca,
    ...(opts.passCredentials ? {} : { cert: tls.cert, key: tls.key }),
  });
  const log: Seen[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, drop = false, seen?: Seen) => {
    const up = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (upRes) => {
        if (seen) seen.status = upRes.statusCode;
        if (drop) {
          upRes.resume();
          res.socket?.destroy();
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    if (seen && req.method !== 'GET')
      req.on('data', (c: Buffer) => {
        seen.body = (seen.body ?? '') + c.toString();
      });
    req.pipe(up);
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const seen: Seen = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      watch: url.searchParams.get('watch') === '1',
      token: /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1],
    };
    log.push(seen);
    const d = decide(seen);
    if ('forward' in d) {
      if (!d.delayMs) return forward(req, res, d.dropResponse, seen);
      const t = setTimeout(() => {
        timers.delete(t);
        forward(req, res, d.dropResponse, seen);
      }, d.delayMs);
      timers.add(t);
      return;
    }
    req.resume();
    if ('watchError' in d) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: d.watchError, message: 'injected watch error' } })}\n`,
      );
      return;
    }
    res.writeHead(d.status, { 'Content-Type': 'application/json', ...d.headers });
    res.end(
      JSON.stringify(
        d.body ?? {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code: d.status,
          message: 'injected by the test proxy',
        },
      ),
    );
  };
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handle)
    : http.createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(tmpdir(), `vw-forward-${port}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: proxied\n  cluster:\n    server: ${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: via-proxy\n  user: {}\ncontexts:\n- name: proxied\n  context: {cluster: proxied, user: via-proxy}\ncurrent-context: proxied\n`,
  );
  return {
    kubeconfig,
    log,
    stop: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
