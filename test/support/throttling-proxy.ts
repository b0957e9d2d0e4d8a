import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A plain-HTTP front for the real API server that answers every Nth mutating request with
 * 429 Too Many Requests (Retry-After: 0), as API Priority and Fairness does under load, but never
 * the same request twice. Everything else is forwarded with the admin's credentials.
 */
export async function startThrottlingProxy(adminKubeconfig: string, opts: { throttleEvery: number }) {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const upstream = new URL(kc.getCurrentCluster()?.server ?? '');
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  let mutating = 0;
  let throttled = 0;
  const throttledOnce = new Set<string>();
  const server = http.createServer((req, res) => {
    // Each request is throttled at most once, so whether a run can exhaust its retries does not
    // depend on how the concurrent requests happen to interleave.
    const key = `${req.method} ${req.url}`;
    if (
      req.method !== 'GET' &&
      req.method !== 'POST' &&
      ++mutating % opts.throttleEvery === 0 &&
      !throttledOnce.has(key)
    ) {
      throttledOnce.add(key);
      throttled++;
      req.resume();
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '0' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'TooManyRequests',
          message: 'throttled by the test proxy',
          code: 429,
        }),
      );
      return;
    }
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
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(tmpdir(), `vw-throttle-${port}.kubeconfig`);
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: throttled\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: via-proxy\n  user: {}\ncontexts:\n- name: throttled\n  context: {cluster: throttled, user: via-proxy}\ncurrent-context: throttled\n`,
  );
  return {
    kubeconfig,
    throttled: () => throttled,
    stop: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
