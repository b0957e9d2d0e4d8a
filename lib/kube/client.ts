import https from 'node:https';
import http from 'node:http';
import { sleep } from '../concurrency';
import { ApiError, ConnectionError, isConflict, isRetryable } from './api-error';
import type { KubeTarget } from './config';
import { type KubeObject, type ObjectList, type ResourceType, resourcePath } from './resources';

export type DryRun = 'none' | 'client' | 'server';

export interface ClientOptions {
  /** Per-request timeout in ms; 0 means none (kubectl's --request-timeout). */
  requestTimeoutMs?: number;
  /** Sockets kept open to the API server; bounds how many requests are in flight. */
  maxConnections?: number;
  /** Attempts for retryable failures (429, 5xx, connection errors). */
  maxAttempts?: number;
  userAgent?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Server-side dry-run: the API server validates and admits but does not persist. */
  dryRun?: boolean;
}

export interface PatchOptions {
  dryRun?: boolean;
  subresource?: string;
}

export type RequestListener = (event: { method: string; path: string; status: number; attempt: number }) => void;

/**
 * The one way every plugin talks to the API server: raw REST over a keep-alive agent, with
 * kubeconfig auth from @kubernetes/client-node (certificates, tokens, exec plugins), retries with
 * backoff on 429/5xx, paginated lists and server-side dry-run. One path for every kind keeps
 * retries, dry-run and paging uniform across CRDs and core objects.
 */
export class KubeClient {
  readonly server: string;
  private readonly agent: https.Agent | http.Agent;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly userAgent: string;
  private authCache?: { at: number; opts: https.RequestOptions };
  onRequest?: RequestListener;

  constructor(
    readonly target: KubeTarget,
    opts: ClientOptions = {},
  ) {
    this.server = target.server.replace(/\/+$/, '');
    const maxSockets = opts.maxConnections ?? 16;
    this.agent = this.server.startsWith('http:')
      ? new http.Agent({ keepAlive: true, maxSockets })
      : new https.Agent({ keepAlive: true, maxSockets });
    this.timeoutMs = opts.requestTimeoutMs ?? 0;
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.userAgent = opts.userAgent ?? 'kubectl-vw';
  }

  close() {
    this.agent.destroy();
  }

  // Credentials from exec plugins expire; refreshing every 30 s is well inside any token's life.
  private async authOptions(force = false): Promise<https.RequestOptions> {
    const now = Date.now();
    if (!force && this.authCache && now - this.authCache.at < 30_000) return this.authCache.opts;
    const opts: https.RequestOptions = { headers: {} };
    try {
      await this.target.kubeConfig.applyToHTTPSOptions(opts);
    } catch (err) {
      throw new ConnectionError(this.server, new Error(`authentication failed: ${(err as Error).message}`));
    }
    this.authCache = { at: now, opts };
    return opts;
  }

  private async once<T>(method: string, path: string, req: RequestOptions, signal?: AbortSignal): Promise<T> {
    const auth = await this.authOptions();
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    if (req.dryRun) url.searchParams.set('dryRun', 'All');
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {
      ...(auth.headers as Record<string, string>),
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const transport = url.protocol === 'http:' ? http : https;
    return await new Promise<T>((resolve, reject) => {
      const r = transport.request(
        url,
        { ...auth, method, headers, agent: this.agent, timeout: this.timeoutMs || undefined, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new ConnectionError(this.server, e)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve((text ? JSON.parse(text) : undefined) as T);
              return;
            }
            let reason = res.statusMessage ?? '';
            let message = text.trim() || `HTTP ${status}`;
            try {
              const s = JSON.parse(text) as { reason?: string; message?: string };
              reason = s.reason ?? reason;
              message = s.message ?? message;
            } catch {
              // not a Status object; keep the raw text
            }
            const retryAfter = Number(res.headers['retry-after']);
            reject(new ApiError(status, reason, message, Number.isFinite(retryAfter) ? retryAfter : undefined));
          });
        },
      );
      r.on('timeout', () => r.destroy(new Error(`request timed out after ${this.timeoutMs} ms`)));
      r.on('error', (e) => reject(e instanceof ApiError ? e : new ConnectionError(this.server, e)));
      if (body !== undefined) r.write(body);
      r.end();
    });
  }

  /** One request with retries on 429 (honouring Retry-After), 5xx and connection failures. */
  async request<T>(method: string, path: string, req: RequestOptions = {}, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.once<T>(method, path, req, signal);
        this.onRequest?.({ method, path, status: 200, attempt });
        return result;
      } catch (err) {
        const status = err instanceof ApiError ? err.status : 0;
        this.onRequest?.({ method, path, status, attempt });
        if (err instanceof ApiError && err.status === 401 && attempt === 1) {
          await this.authOptions(true);
          continue;
        }
        if (!isRetryable(err) || attempt >= this.maxAttempts || signal?.aborted) throw err;
        // Never sooner than the server asks (Retry-After), but never in lockstep either: a
        // Retry-After of 0 obeyed literally re-sends every throttled request at once, in the same order.
        const retryAfterMs = (err instanceof ApiError ? (err.retryAfterSeconds ?? 0) : 0) * 1000;
        const backoff = Math.min(200 * 2 ** (attempt - 1), 5_000) * (0.5 + Math.random() / 2);
        await sleep(Math.max(retryAfterMs, backoff), signal);
      }
    }
  }

  /** A long-lived GET (watch=1) whose body is newline-delimited JSON events. */
  async stream(path: string, query: RequestOptions['query'], signal: AbortSignal): Promise<http.IncomingMessage> {
    const auth = await this.authOptions();
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const transport = url.protocol === 'http:' ? http : https;
    return await new Promise((resolve, reject) => {
      const r = transport.request(
        url,
        {
          ...auth,
          method: 'GET',
          headers: {
            ...(auth.headers as Record<string, string>),
            Accept: 'application/json',
            'User-Agent': this.userAgent,
          },
          // Watches get their own connection so they never queue behind bounded request sockets.
          agent: false,
          signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(res);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let message = Buffer.concat(chunks).toString('utf8');
            let reason = '';
            try {
              ({ message, reason } = JSON.parse(message) as { message: string; reason: string });
            } catch {
              // keep raw text
            }
            reject(new ApiError(status, reason, message));
          });
        },
      );
      r.on('error', (e) => reject(new ConnectionError(this.server, e)));
      r.end();
    });
  }

  get<T extends KubeObject = KubeObject>(r: ResourceType, name: string, namespace?: string): Promise<T> {
    return this.request<T>('GET', resourcePath(r, { namespace, name }));
  }

  /** get, or undefined when the object does not exist. */
  async find<T extends KubeObject = KubeObject>(r: ResourceType, name: string, namespace?: string) {
    try {
      return await this.get<T>(r, name, namespace);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  create<T extends KubeObject = KubeObject>(r: ResourceType, obj: unknown, namespace?: string, dryRun = false) {
    return this.request<T>('POST', resourcePath(r, { namespace }), { body: obj, dryRun });
  }

  private patch<T>(
    contentType: string,
    r: ResourceType,
    name: string,
    namespace: string | undefined,
    body: unknown,
    opts: PatchOptions,
  ) {
    return this.request<T>('PATCH', resourcePath(r, { namespace, name, subresource: opts.subresource }), {
      body,
      contentType,
      dryRun: opts.dryRun,
    });
  }

  /** JSON merge patch (RFC 7386): what `kubectl patch --type=merge` sends. */
  mergePatch<T extends KubeObject = KubeObject>(
    r: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    opts: PatchOptions = {},
  ) {
    return this.patch<T>('application/merge-patch+json', r, name, namespace, patch, opts);
  }

  /** JSON patch (RFC 6902), used with a `test` op where a change must not race another writer. */
  jsonPatch<T extends KubeObject = KubeObject>(
    r: ResourceType,
    name: string,
    namespace: string | undefined,
    ops: unknown[],
    opts: PatchOptions = {},
  ) {
    return this.patch<T>('application/json-patch+json', r, name, namespace, ops, opts);
  }

  replace<T extends KubeObject = KubeObject>(
    r: ResourceType,
    obj: KubeObject,
    opts: { dryRun?: boolean; subresource?: string } = {},
  ) {
    return this.request<T>(
      'PUT',
      resourcePath(r, { namespace: obj.metadata.namespace, name: obj.metadata.name, subresource: opts.subresource }),
      { body: obj, dryRun: opts.dryRun },
    );
  }

  delete(
    r: ResourceType,
    name: string,
    namespace?: string,
    opts: { dryRun?: boolean; propagationPolicy?: string } = {},
  ) {
    return this.request<KubeObject>('DELETE', resourcePath(r, { namespace, name }), {
      // The API server reads DeleteOptions from the body when there is one, ignoring the query's
      // dryRun: it must be in the body too, or a dry run deletes for real.
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: opts.propagationPolicy ?? 'Background',
        ...(opts.dryRun ? { dryRun: ['All'] } : {}),
      },
      dryRun: opts.dryRun,
    });
  }

  /**
   * Read-modify-write with re-read on 409: `mutate` gets the latest object and returns the new
   * one, or undefined when nothing needs to change.
   */
  async update<T extends KubeObject>(
    r: ResourceType,
    name: string,
    namespace: string | undefined,
    mutate: (current: T) => T | undefined,
    opts: { dryRun?: boolean; subresource?: string } = {},
  ): Promise<{ object: T; changed: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get<T>(r, name, namespace);
      const next = mutate(structuredClone(current));
      if (!next) return { object: current, changed: false };
      try {
        return { object: await this.replace<T>(r, next, opts), changed: true };
      } catch (err) {
        if (!isConflict(err) || attempt >= 10) throw err;
      }
    }
  }

  /** Every object of a type, one page (limit/continue) at a time, so memory follows page size. */
  async *listPages<T extends KubeObject = KubeObject>(
    r: ResourceType,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number } = {},
  ): AsyncGenerator<ObjectList<T>> {
    let cont: string | undefined;
    do {
      const page = await this.request<ObjectList<T>>('GET', resourcePath(r, { namespace: opts.namespace }), {
        query: {
          limit: opts.limit ?? 500,
          continue: cont,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
        },
      });
      yield page;
      cont = page.metadata.continue || undefined;
    } while (cont);
  }

  async *listItems<T extends KubeObject = KubeObject>(
    r: ResourceType,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number } = {},
  ): AsyncGenerator<T> {
    for await (const page of this.listPages<T>(r, opts)) yield* page.items;
  }

  /** list, or no items when the kind is not served here (its CRD absent: 404). */
  async listIfServed<T extends KubeObject = KubeObject>(
    r: ResourceType,
    opts: { namespace?: string } = {},
  ): Promise<T[]> {
    try {
      return (await this.list<T>(r, opts)).items;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return [];
      throw err;
    }
  }

  async list<T extends KubeObject = KubeObject>(
    r: ResourceType,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number } = {},
  ): Promise<{ items: T[]; resourceVersion?: string }> {
    const items: T[] = [];
    let resourceVersion: string | undefined;
    for await (const page of this.listPages<T>(r, opts)) {
      items.push(...page.items);
      // Every page of a paginated list is served from the first page's snapshot.
      resourceVersion ??= page.metadata.resourceVersion;
    }
    return { items, resourceVersion };
  }
}
