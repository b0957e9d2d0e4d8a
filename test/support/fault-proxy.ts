import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A plain-HTTP front for the real API server, forwarding with the admin kubeconfig's
 * credentials, that misbehaves on request: rules matched by method, path and whether the request
 * is a dry run answer 429 with Retry-After, a 5xx, reset the connection before forwarding, forward
 * and then drop the answer (the server applied it, the client sees a reset), delay, never answer
 * (a hung endpoint), or let something happen first (a hand edit placed between two requests). Each rule
 * applies to its next K matching requests or with a probability. Every request is recorded (what
 * the API server saw, and what the client got), so tests can prove what was sent and measure how
 * retries were spaced. Writes keep their bodies: a test can check what was sent, not only where.
 *
 *   const proxy = await startFaultProxy(adminKubeconfig);
 *   proxy.addRule({ method: 'PATCH', path: /applicationinstances/, action: { status: 429, retryAfterSeconds: 1 }, times: 2 });
 *   ... run a plugin with --kubeconfig proxy.kubeconfig ...
 *   proxy.requests.filter((r) => r.method === 'PATCH')
 */

export type FaultAction =
  /** Answer this status (429 or any 5xx) with a Status body, without forwarding. */
  | { status: number; retryAfterSeconds?: number; message?: string }
  /** Reset the connection before forwarding: the API server never sees the request. */
  | { reset: true }
  /** Forward, let the API server apply it, then reset the connection instead of answering. */
  | { drop: true }
  /** Wait this long, then forward. */
  | { delayMs: number }
  /** Accept the request and never answer it (nor forward it): an endpoint that has hung. */
  | { hang: true }
  /** Run `before` (a change someone makes meanwhile), then forward: a moment placed between two requests. */
  | { before: () => Promise<void> };

export interface FaultRule {
  /** Exact HTTP method, or a regexp of methods; any when absent. */
  method?: string | RegExp;
  /** Tested against the path (no query); any when absent. */
  path?: RegExp;
  /** true: only dry runs (query dryRun=All); false: only real requests; any when absent. */
  dryRun?: boolean;
  /** Any other test of the request (method, path, query). */
  match?: (req: { method: string; path: string; query: URLSearchParams }) => boolean;
  action: FaultAction;
  /** Applies to the next K matching requests, then retires (default: unlimited). */
  times?: number;
  /** Applies to each matching request with this probability (default 1). */
  probability?: number;
}

export interface ProxiedRequest {
  /** When the request arrived. */
  time: Date;
  method: string;
  path: string;
  /** The raw query string, without '?'. */
  query: string;
  userAgent?: string;
  /** Whether it reached the API server. */
  forwarded: boolean;
  /** The status the client was answered; undefined when it got a reset or no answer yet. */
  status?: number;
  /** reset: the client's connection was reset (forwarded or not); dropped: forwarded, then reset. */
  outcome: 'pending' | 'answered' | 'reset' | 'dropped' | 'error';
  /** The rule applied, by its id. */
  rule?: number;
  /** When it was sent on to the API server (after any delay). */
  forwardedAt?: Date;
  /** The request body of a write (POST, PUT, PATCH, DELETE), as sent, up to 256 KiB. */
  body?: string;
  /** Whether this was a server-side dry run (dryRun=All in the query). */
  dryRun: boolean;
}

export interface RuleHandle {
  readonly id: number;
  /** How many more times it applies (Infinity when unlimited). */
  readonly remaining: number;
  /** How many times it has applied. */
  readonly applied: number;
  remove(): void;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** A kubeconfig that reaches the API server through the proxy (no credentials of its own). */
  readonly kubeconfig: string;
  /** Every request, in arrival order. */
  readonly requests: ProxiedRequest[];
  addRule(rule: FaultRule): RuleHandle;
  clearRules(): void;
  /** Forgets the record. */
  clearRequests(): void;
  stop(): Promise<void>;
}

interface ActiveRule {
  id: number;
  rule: FaultRule;
  remaining: number;
  applied: number;
}

const statusBody = (code: number, message: string) => {
  const reason =
    code === 429
      ? 'TooManyRequests'
      : code === 503
        ? 'ServiceUnavailable'
        : code === 504
          ? 'Timeout'
          : code >= 500
            ? 'InternalError'
            : 'BadRequest';
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
};

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const maxBody = 256 * 1024;

/** A write's whole body, read before anything else is decided (it is forwarded as it came). */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function isDryRun(query: URLSearchParams) {
  return query.getAll('dryRun').includes('All');
}

export async function startFaultProxy(adminKubeconfig: string): Promise<FaultProxy> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const upstream = new URL(kc.getCurrentCluster()?.server ?? '');
  const tls: https.RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(tls);
  const authHeaders = { ...(tls.headers as Record<string, string>) };
  const agent = new https.Agent({
    keepAlive: true,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.rejectUnauthorized,
  });
  const rules: ActiveRule[] = [];
  const requests: ProxiedRequest[] = [];
  const hung = new Set<http.ServerResponse>();
  let nextId = 1;

  const pick = (method: string, path: string, query: URLSearchParams): ActiveRule | undefined => {
    for (const r of rules) {
      const { rule } = r;
      if (r.remaining <= 0) continue;
      if (rule.method !== undefined) {
        if (typeof rule.method === 'string' ? rule.method.toUpperCase() !== method : !rule.method.test(method))
          continue;
      }
      if (rule.path && !rule.path.test(path)) continue;
      if (rule.dryRun !== undefined && rule.dryRun !== isDryRun(query)) continue;
      if (rule.match && !rule.match({ method, path, query })) continue;
      if (rule.probability !== undefined && Math.random() >= rule.probability) continue;
      r.remaining--;
      r.applied++;
      return r;
    }
    return undefined;
  };

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: ProxiedRequest,
    drop: boolean,
    body?: Buffer,
  ) => {
    record.forwarded = true;
    record.forwardedAt = new Date();
    const up = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, ...authHeaders, host: upstream.host },
        agent,
      },
      (upRes) => {
        if (drop) {
          // The API server has done it; the client never hears.
          upRes.resume();
          upRes.on('end', () => {
            record.outcome = 'dropped';
            record.status = undefined;
            res.socket?.destroy();
          });
          return;
        }
        record.status = upRes.statusCode;
        record.outcome = 'answered';
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      record.outcome = 'error';
      res.destroy();
    });
    res.on('close', () => up.destroy());
    if (body) up.end(body);
    else req.pipe(up);
  };

  const handle = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: ProxiedRequest,
    url: URL,
    body?: Buffer,
  ) => {
    const hit = pick(record.method, url.pathname, url.searchParams);
    if (hit) record.rule = hit.id;
    const action = hit?.rule.action;
    if (!action) return forward(req, res, record, false, body);
    if ('status' in action) {
      if (!body) req.resume();
      const text = statusBody(action.status, action.message ?? `injected by the fault proxy (rule ${hit.id})`);
      res.writeHead(action.status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
        ...(action.retryAfterSeconds !== undefined ? { 'Retry-After': String(action.retryAfterSeconds) } : {}),
      });
      res.end(text);
      record.status = action.status;
      record.outcome = 'answered';
      return;
    }
    if ('reset' in action) {
      record.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    if ('drop' in action) return forward(req, res, record, true, body);
    if ('hang' in action) {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    if ('before' in action) {
      action.before().then(
        () => forward(req, res, record, false, body),
        () => forward(req, res, record, false, body),
      );
      return;
    }
    const timer = setTimeout(() => forward(req, res, record, false, body), action.delayMs);
    res.on('close', () => clearTimeout(timer));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const method = (req.method ?? 'GET').toUpperCase();
    const record: ProxiedRequest = {
      time: new Date(),
      method,
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      userAgent: req.headers['user-agent'],
      forwarded: false,
      outcome: 'pending',
      dryRun: isDryRun(url.searchParams),
    };
    requests.push(record);
    if (!writeMethods.has(method)) return handle(req, res, record, url);
    readBody(req).then((body) => {
      record.body = body.subarray(0, maxBody).toString('utf8');
      handle(req, res, record, url, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfig = join(tmpdir(), `vw-fault-proxy-${process.pid}-${port}.kubeconfig`);
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: fault-proxy\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\nusers:\n- name: via-proxy\n  user: {}\ncontexts:\n- name: fault-proxy\n  context: {cluster: fault-proxy, user: via-proxy}\ncurrent-context: fault-proxy\n`,
  );

  return {
    url,
    kubeconfig,
    requests,
    addRule(rule) {
      const active: ActiveRule = { id: nextId++, rule, remaining: rule.times ?? Number.POSITIVE_INFINITY, applied: 0 };
      rules.push(active);
      return {
        id: active.id,
        get remaining() {
          return active.remaining;
        },
        get applied() {
          return active.applied;
        },
        remove() {
          const i = rules.indexOf(active);
          if (i >= 0) rules.splice(i, 1);
        },
      };
    },
    clearRules() {
      rules.length = 0;
    },
    clearRequests() {
      requests.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.socket?.destroy();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
