import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { odooDecommissionPath } from './contract';

/**
 * A stand-in for the Odoo side of the operator: the two agent endpoints the operator calls
 * (operator-api.md, "Cluster"), with switches for the ways Odoo goes wrong in the field.
 */

/**
 * up: answers; down: not listening (connection refused); failing: 503 to everything; slow: answers
 * late (delayMs, default 2 s); unauthorized: 401 to every agent call (a revoked or wrong
 * credential); rejecting: the decommission is refused with a 4xx (status, default 409), the rest
 * answers.
 */
export type OdooMode = 'up' | 'down' | 'failing' | 'slow' | 'unauthorized' | 'rejecting';

export const odooModes: readonly OdooMode[] = ['up', 'down', 'failing', 'slow', 'unauthorized', 'rejecting'];

export interface OdooModeOptions {
  /** slow: how late each answer comes (default 2000 ms). */
  delayMs?: number;
  /** rejecting: the 4xx status of the refusal (default 409). */
  status?: number;
}

export interface OdooCall {
  method: string;
  path: string;
  /** The parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
  time: Date;
  /** The caller's User-Agent header. */
  userAgent?: string;
  /** The status answered (after any delay); undefined while a slow answer is pending or was cut off. */
  status?: number;
}

export interface FakeOdoo {
  readonly url: string;
  readonly port: number;
  readonly mode: OdooMode;
  /** Every request received, in arrival order. */
  readonly calls: OdooCall[];
  /** Resolves once the new mode is in force (for down: the port refuses connections). */
  setMode(mode: OdooMode, opts?: OdooModeOptions): Promise<void>;
  /** Cluster IDs acknowledged by POST /api/agent/cluster/decommission, in order. */
  decommissioned(): string[];
  /** The decommission calls received (answered or not), for asserting how often the operator called. */
  decommissionCalls(): OdooCall[];
  stop(): Promise<void>;
}

export const decommissionPath = odooDecommissionPath;
/** The fake's own health endpoint (the contract names none; the simulated operator polls it). */
export const healthPath = '/api/agent/health';

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
};

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startFakeOdoo(): Promise<FakeOdoo> {
  let mode: OdooMode = 'up';
  let delayMs = 0;
  let rejectStatus = 409;
  const calls: OdooCall[] = [];
  const acknowledged: string[] = [];
  const pendingTimers = new Set<NodeJS.Timeout>();

  const answer = (req: http.IncomingMessage, body: unknown): { status: number; payload: unknown } => {
    if (mode === 'failing') return { status: 503, payload: { error: 'service unavailable' } };
    const path = new URL(req.url ?? '/', 'http://odoo').pathname;
    if (mode === 'unauthorized' && path.startsWith('/api/agent/'))
      return { status: 401, payload: { error: 'invalid or revoked agent credential' } };
    if (mode === 'rejecting' && req.method === 'POST' && path === decommissionPath)
      return { status: rejectStatus, payload: { error: `decommission refused (${rejectStatus})` } };
    if (req.method === 'GET' && path === healthPath) return { status: 200, payload: { status: 'ok' } };
    if (req.method === 'POST' && path === decommissionPath) {
      const clusterID = (body as { clusterID?: unknown } | undefined)?.clusterID;
      if (typeof clusterID !== 'string' || !clusterID) {
        return { status: 400, payload: { error: 'clusterID (a non-empty string) is required' } };
      }
      if (!acknowledged.includes(clusterID)) acknowledged.push(clusterID);
      return { status: 200, payload: { acknowledged: true } };
    }
    return { status: 404, payload: { error: `no route ${req.method} ${path}` } };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = parseBody(Buffer.concat(chunks).toString('utf8'));
      const call: OdooCall = {
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://odoo').pathname,
        body,
        time: new Date(),
        userAgent: req.headers['user-agent'],
      };
      calls.push(call);
      const respond = () => {
        // Decided when answering, so a slow request that outlives a switch answers in the new mode;
        // one whose caller gave up is still processed (as a real server would), one cut by "down" is not.
        if (mode === 'down') return;
        const { status, payload } = answer(req, body);
        call.status = status;
        if (!res.destroyed) json(res, status, payload);
      };
      if (mode === 'slow' && delayMs > 0) {
        const t = setTimeout(() => {
          pendingTimers.delete(t);
          respond();
        }, delayMs);
        pendingTimers.add(t);
      } else {
        respond();
      }
    });
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      // Keep-alive sockets would otherwise keep answering after "down".
      server.closeAllConnections();
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    calls,
    get mode() {
      return mode;
    },
    async setMode(next, opts = {}) {
      if (!odooModes.includes(next)) throw new Error(`unknown Odoo mode ${next}`);
      delayMs = next === 'slow' ? (opts.delayMs ?? 2000) : 0;
      if (next === 'rejecting') {
        rejectStatus = opts.status ?? 409;
        if (rejectStatus < 400 || rejectStatus > 499)
          throw new Error(`rejecting needs a 4xx status, not ${rejectStatus}`);
      }
      if (next === 'down') {
        mode = next;
        await close();
        return;
      }
      // Reopen on the same port, so the operator's configured URL keeps working.
      if (!server.listening) await listen(port);
      mode = next;
    },
    decommissioned: () => [...acknowledged],
    decommissionCalls: () => calls.filter((c) => c.method === 'POST' && c.path === decommissionPath),
    async stop() {
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      await close();
    },
  };
}
