import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { HttpProxyAgent, HttpsProxyAgent } from 'hpagent';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { sleep } from '../concurrency';
import { formatDuration } from '../duration';
import { Interruption, windDownMs } from './interruption';
import { boundPhases, endRequest, PhaseTimeoutError, proxyForMessages } from './phases';
import { ApiError, ConnectionError, isConflict, isNotFound, isRetryable } from './api-error';
import type { KubeTarget } from './config';
import { type KubeObject, type ObjectList, type ResourceType, resourcePath } from './resources';

export interface ClientOptions {
  /** Sockets kept open to the API server; bounds how many requests are in flight. */
  maxConnections?: number;
  /** Attempts for retryable failures (429, 5xx, connection errors). */
  maxAttempts?: number;
  userAgent?: string;
  /** Every request is cancelled when this aborts (Ctrl-C, a wait's deadline). */
  signal?: AbortSignal;
  /** The field manager writes are recorded under (managedFields): the evidence of who set what. */
  fieldManager?: string;
  /** The run's interruption (Ctrl-C, SIGTERM): reads in flight stop at once, the rest after a grace. */
  interrupt?: AbortSignal;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Server-side dry-run: the API server validates and admits but does not persist. */
  dryRun?: boolean;
  /** The Accept header, when not plain JSON (a metadata-only list). */
  accept?: string;
  /** The caller does not read the answer: a success is not parsed (nor kept while it arrives). */
  discardBody?: boolean;
}

/**
 * What client-go asks for to get lists of PartialObjectMetadata (metadata only: no spec, no
 * status, no Secret data), with plain JSON as the fallback for servers that cannot.
 */
export const metadataOnlyAccept =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1,application/json';

export interface PatchOptions {
  dryRun?: boolean;
  subresource?: string;
  /** The patched object is not wanted: resolves to undefined, without parsing it. */
  discardBody?: boolean;
}

/** Deletes only the object that was planned: the API server refuses (409) if uid or version moved. */
export interface DeleteOptions {
  dryRun?: boolean;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type RequestListener = (event: { method: string; path: string; status: number; attempt: number }) => void;

/** How long the reads started beside the first one wait for its TLS session, at most. */
export const firstConnectionWaitMs = 1_000;

/** Server-requested waits (Retry-After) are honoured, up to this. */
export const maxRetryAfterMs = 10_000;

/** Shared by a client and the views withSignal makes of it: one agent, one credential cache. */
interface Transport {
  server: string;
  agent: http.Agent;
  authCache?: { at: number; opts: Promise<https.RequestOptions> };
  listeners: RequestListener[];
  interruption?: Interruption;
  /** Settles once the first request has its answer (or has failed): see firstConnection. */
  opened?: Promise<void>;
}

function makeAgent(target: KubeTarget, maxSockets: number): http.Agent {
  const base = { keepAlive: true, maxSockets };
  const proxy = target.proxy;
  const secure = target.server.startsWith('https:');
  if (proxy?.startsWith('socks')) return new SocksProxyAgent(proxy, base);
  if (proxy) return secure ? new HttpsProxyAgent({ ...base, proxy }) : new HttpProxyAgent({ ...base, proxy });
  return secure ? new https.Agent(base) : new http.Agent(base);
}

const withQuery = (base: string, query: RequestOptions['query']) => {
  const url = new URL(base);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  }
  return url;
};

/** A non-2xx answer as an ApiError carrying the Status object's reason and message. */
function apiErrorOf(status: number, statusMessage: string | undefined, text: string, retryAfter?: string) {
  let reason = statusMessage ?? '';
  let message = text.trim() || `HTTP ${status}`;
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status object; keep the raw text
  }
  const seconds = Number(retryAfter);
  return new ApiError(
    status,
    reason,
    message,
    retryAfter !== undefined && Number.isFinite(seconds) ? seconds : undefined,
  );
}

/** What bounds one request, retries included: --request-timeout, or the wind-down of an interrupted run. */
interface Deadline {
  signal: AbortSignal;
  /** The error once it has passed. */
  failure(): unknown;
}

/** A cancelled request fails at once, even before it has a connection (see endRequest). */
function whenAborted(r: http.ClientRequest, signal: AbortSignal | undefined, fail: (e: Error) => void) {
  if (!signal) return;
  const abort = () => endRequest(r, new Error('the request was cancelled'), fail);
  if (signal.aborted) return abort();
  signal.addEventListener('abort', abort, { once: true });
  r.once('close', () => signal.removeEventListener('abort', abort));
}

const deadlineOf = (ms: number, failure: () => unknown): Deadline => ({ signal: AbortSignal.timeout(ms), failure });

/**
 * The one way every plugin talks to the API server: raw REST over a keep-alive agent (through the
 * kubeconfig's proxy-url when it has one), with kubeconfig auth from @kubernetes/client-node
 * (certificates, tokens, exec plugins), impersonation, retries with backoff on 429/5xx,
 * paginated lists and server-side dry-run. One path for every kind keeps retries, dry-run and
 * paging uniform across CRDs and core objects.
 */
export class KubeClient {
  readonly server: string;
  private readonly transport: Transport;
  private readonly maxAttempts: number;
  private readonly userAgent: string;
  private readonly signal?: AbortSignal;
  private readonly fieldManager?: string;

  constructor(
    readonly target: KubeTarget,
    opts: ClientOptions = {},
    transport?: Transport,
  ) {
    this.server = target.server.replace(/\/+$/, '');
    this.transport = transport ?? {
      server: this.server,
      agent: makeAgent(target, opts.maxConnections ?? 16),
      listeners: [],
      interruption: opts.interrupt ? new Interruption(opts.interrupt) : undefined,
    };
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.userAgent = opts.userAgent ?? 'kubectl-vw';
    this.signal = opts.signal;
    this.fieldManager = opts.fieldManager;
  }

  /** --request-timeout for a request starting now; after an interruption, the wind-down's bound too. */
  private deadline(): Deadline | undefined {
    const ms = this.target.requestTimeoutMs;
    const interruption = this.transport.interruption;
    if (interruption?.interrupted && (!ms || ms > windDownMs))
      return deadlineOf(windDownMs, () => interruption.signal.reason);
    if (!ms) return undefined;
    const timedOut = new PhaseTimeoutError(`no answer within --request-timeout ${formatDuration(ms)}`);
    return deadlineOf(ms, () => new ConnectionError(this.server, timedOut));
  }

  /** The same client whose every request is also cancelled by `signal` (a wait's deadline). */
  withSignal(signal: AbortSignal): KubeClient {
    const combined = this.signal ? AbortSignal.any([this.signal, signal]) : signal;
    return new KubeClient(
      this.target,
      { maxAttempts: this.maxAttempts, userAgent: this.userAgent, signal: combined, fieldManager: this.fieldManager },
      this.transport,
    );
  }

  /** Every request's outcome, for -v and for counting requests per object. */
  onRequest(listener: RequestListener) {
    this.transport.listeners.push(listener);
  }

  close() {
    this.transport.agent.destroy();
  }

  // Credentials from exec plugins expire; refreshing every 30 s is well inside any token's life.
  // The reads a command starts together share one resolution (one exec plugin run, one TLS
  // context) rather than each making its own before the first has finished.
  private authOptions(force = false): Promise<https.RequestOptions> {
    const cache = this.transport.authCache;
    const now = Date.now();
    if (!force && cache && now - cache.at < 30_000) return cache.opts;
    const opts = this.resolveAuth();
    this.transport.authCache = { at: now, opts };
    // A failure is not kept: the next request tries again.
    opts.catch(() => {
      if (this.transport.authCache?.opts === opts) this.transport.authCache = undefined;
    });
    return opts;
  }

  private async resolveAuth(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { headers: {} };
    try {
      await this.target.kubeConfig.applyToHTTPSOptions(opts);
    } catch (err) {
      throw new ConnectionError(this.server, new Error(`authentication failed: ${(err as Error).message}`));
    }
    // client-node makes an agent of its own; ours (keep-alive, bounded, proxied) is used instead.
    delete opts.agent;
    // One TLS context for every connection: Node would otherwise parse the CA, the certificate and
    // the key again for each new socket (a dozen at once when a command starts its reads together).
    if (this.server.startsWith('https:')) {
      const { ca, cert, key, pfx, passphrase } = opts;
      (opts as tls.ConnectionOptions).secureContext = tls.createSecureContext({ ca, cert, key, pfx, passphrase });
    }
    const headers = opts.headers as Record<string, string | string[]>;
    const { groups, uid } = this.target.impersonate;
    if (groups.length) headers['Impersonate-Group'] = groups;
    if (uid) headers['Impersonate-Uid'] = uid;
    return opts;
  }

  private headers(auth: https.RequestOptions, body?: string, contentType?: string, accept?: string) {
    const headers: Record<string, string | string[]> = {
      ...(auth.headers as Record<string, string | string[]>),
      Accept: accept ?? 'application/json',
      'User-Agent': this.userAgent,
    };
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return headers;
  }

  /**
   * What cancels one attempt: the client's signal (a wait's deadline, the lock), what is left of
   * --request-timeout, and the run's interruption. Which of them fired decides the error.
   */
  private attemptSignals(method: string, path: string, deadline?: Deadline) {
    const interrupted = this.transport.interruption?.inFlight(method, path);
    const all = [this.signal, deadline?.signal, interrupted].filter((s): s is AbortSignal => Boolean(s));
    const failure = (e: Error) => {
      if (interrupted?.aborted) return interrupted.reason;
      if (deadline?.signal.aborted) return deadline.failure();
      return e instanceof ApiError ? e : new ConnectionError(this.server, e);
    };
    return { signal: all.length ? AbortSignal.any(all) : undefined, failure };
  }

  /**
   * The first request over TLS goes alone; the ones started beside it wait for its answer. By then
   * the agent holds the server's session ticket, and every further connection resumes that session
   * (no certificate chain to send and verify again) rather than each paying a full handshake at
   * once. Returns what the first request calls when it is answered, or has failed.
   */
  private async firstConnection(): Promise<(() => void) | undefined> {
    const t = this.transport;
    if (t.opened) {
      await t.opened;
      return undefined;
    }
    if (!this.server.startsWith('https:')) {
      t.opened = Promise.resolve();
      return undefined;
    }
    let done: () => void = () => {};
    t.opened = new Promise<void>((resolve) => {
      // Never more than a moment: a server that does not answer must not hold the others back
      // for the first request's whole timeout before they even start theirs.
      const cap = setTimeout(resolve, firstConnectionWaitMs);
      done = () => {
        clearTimeout(cap);
        resolve();
      };
    });
    return done;
  }

  private async once<T>(method: string, path: string, req: RequestOptions, deadline?: Deadline): Promise<T> {
    const auth = await this.authOptions();
    const url = withQuery(this.server + path, req.query);
    if (req.dryRun) url.searchParams.set('dryRun', 'All');
    if (this.fieldManager && (method === 'PATCH' || method === 'POST' || method === 'PUT'))
      url.searchParams.set('fieldManager', this.fieldManager);
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const transport = url.protocol === 'http:' ? http : https;
    const { signal, failure } = this.attemptSignals(method, path, deadline);
    const opened = await this.firstConnection();
    try {
      return await this.send<T>({ transport, url, method, auth, req, body, signal, failure, opened });
    } finally {
      opened?.();
    }
  }

  /** One attempt on the wire; `opened` is called once the answer starts (see firstConnection). */
  private send<T>(a: {
    transport: typeof https | typeof http;
    url: URL;
    method: string;
    auth: https.RequestOptions;
    req: RequestOptions;
    body: string | undefined;
    signal: AbortSignal | undefined;
    failure: (e: Error) => unknown;
    opened: (() => void) | undefined;
  }): Promise<T> {
    const { transport, url, method, auth, req, body, signal, failure, opened } = a;
    return new Promise<T>((resolve, reject) => {
      const r = transport.request(
        url,
        {
          ...auth,
          method,
          headers: this.headers(auth, body, req.contentType, req.accept),
          agent: this.transport.agent,
          signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (!ok || !req.discardBody) chunks.push(c);
          });
          res.on('error', (e) => reject(failure(e)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (ok) resolve((text ? JSON.parse(text) : undefined) as T);
            else reject(apiErrorOf(status, res.statusMessage, text, res.headers['retry-after'] as string | undefined));
          });
        },
      );
      const fail = (e: Error) => reject(failure(e));
      if (opened) {
        // The session ticket is what the others need: it comes just after the handshake.
        r.once('socket', (socket) => socket.once('session', opened));
        r.once('response', opened);
        r.once('close', opened);
      }
      boundPhases(r, fail, proxyForMessages(this.target.proxy));
      whenAborted(r, signal, fail);
      r.on('error', fail);
      if (body !== undefined) r.write(body);
      r.end();
    });
  }

  private emit(method: string, path: string, status: number, attempt: number) {
    for (const l of this.transport.listeners) l({ method, path, status, attempt });
  }

  /**
   * One request with retries on 429 (honouring Retry-After, capped), 5xx and connection failures.
   * --request-timeout bounds all of it, retries and the waits between them included.
   */
  async request<T>(method: string, path: string, req: RequestOptions = {}): Promise<T> {
    const deadline = this.deadline();
    // Interrupted while this request was in flight: no further attempt. Sent after it: retried
    // as ever, within the wind-down's bound.
    const interrupt = this.transport.interruption?.interrupted ? undefined : this.transport.interruption?.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.once<T>(method, path, req, deadline);
        this.emit(method, path, 200, attempt);
        return result;
      } catch (err) {
        this.emit(method, path, err instanceof ApiError ? err.status : 0, attempt);
        if (err instanceof ApiError && err.status === 401 && attempt === 1) {
          await this.authOptions(true);
          continue;
        }
        if (!isRetryable(err) || attempt >= this.maxAttempts || this.signal?.aborted || interrupt?.aborted) throw err;
        // Never sooner than the server asks (Retry-After, within reason), but never in lockstep
        // either: a Retry-After of 0 obeyed literally re-sends every throttled request at once.
        const retryAfterMs = Math.min(
          (err instanceof ApiError ? (err.retryAfterSeconds ?? 0) : 0) * 1000,
          maxRetryAfterMs,
        );
        const backoff = Math.min(200 * 2 ** (attempt - 1), 5_000) * (0.5 + Math.random() / 2);
        const stop = [this.signal, interrupt, deadline?.signal].filter((s): s is AbortSignal => Boolean(s));
        await sleep(Math.max(retryAfterMs, backoff), stop.length ? AbortSignal.any(stop) : undefined);
        if (interrupt?.aborted) throw interrupt.reason;
        if (deadline?.signal.aborted) throw deadline.failure();
      }
    }
  }

  /** A long-lived GET (watch=1) whose body is newline-delimited JSON events. */
  async stream(path: string, query: RequestOptions['query']): Promise<http.IncomingMessage> {
    const auth = await this.authOptions();
    const url = withQuery(this.server + path, query);
    const transport = url.protocol === 'http:' ? http : https;
    const { signal, failure } = this.attemptSignals('GET', path);
    return await new Promise((resolve, reject) => {
      const r = transport.request(
        url,
        {
          ...auth,
          method: 'GET',
          headers: this.headers(auth),
          // Watches get their own connection so they never queue behind bounded request sockets;
          // through the proxy when there is one.
          agent: this.target.proxy ? makeAgent(this.target, 1) : false,
          signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(res);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(apiErrorOf(status, res.statusMessage, Buffer.concat(chunks).toString('utf8'))));
        },
      );
      const fail = (e: Error) => reject(failure(e));
      boundPhases(r, fail, proxyForMessages(this.target.proxy));
      whenAborted(r, signal, fail);
      r.on('error', fail);
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
      if (isNotFound(err)) return undefined;
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
      discardBody: opts.discardBody,
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

  replace<T extends KubeObject = KubeObject>(r: ResourceType, obj: KubeObject, opts: PatchOptions = {}) {
    return this.request<T>(
      'PUT',
      resourcePath(r, { namespace: obj.metadata.namespace, name: obj.metadata.name, subresource: opts.subresource }),
      { body: obj, dryRun: opts.dryRun },
    );
  }

  delete(r: ResourceType, name: string, namespace?: string, opts: DeleteOptions = {}) {
    return this.request<KubeObject>('DELETE', resourcePath(r, { namespace, name }), {
      // The API server reads DeleteOptions from the body when there is one, ignoring the query's
      // dryRun: it must be in the body too, or a dry run deletes for real.
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: opts.propagationPolicy ?? 'Background',
        ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
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
    opts: PatchOptions = {},
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
    opts: ListOptions = {},
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
        accept: opts.metadataOnly ? metadataOnlyAccept : undefined,
      });
      // An empty PartialObjectMetadataList comes as "items": null.
      page.items ??= [];
      yield page;
      cont = page.metadata.continue || undefined;
    } while (cont);
  }

  async *listItems<T extends KubeObject = KubeObject>(r: ResourceType, opts: ListOptions = {}): AsyncGenerator<T> {
    for await (const page of this.listPages<T>(r, opts)) yield* page.items;
  }

  async list<T extends KubeObject = KubeObject>(
    r: ResourceType,
    opts: ListOptions = {},
  ): Promise<{ items: T[]; resourceVersion?: string }> {
    const items: T[] = [];
    let resourceVersion: string | undefined;
    const slim = opts.slim as ((o: T) => T) | undefined;
    for await (const page of this.listPages<T>(r, opts)) {
      if (slim) for (const o of page.items) items.push(slim(o));
      else items.push(...page.items);
      // Every page of a paginated list is served from the first page's snapshot.
      resourceVersion ??= page.metadata.resourceVersion;
    }
    return { items, resourceVersion };
  }

  /** list, or no items when the kind is not served here (its CRD absent: 404). */
  async listIfServed<T extends KubeObject = KubeObject>(r: ResourceType, opts: ListOptions = {}): Promise<T[]> {
    try {
      return (await this.list<T>(r, opts)).items;
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  /** Items carry metadata only (PartialObjectMetadata): for counting, names and labels. */
  metadataOnly?: boolean;
  /** What list keeps of each item, applied page by page: memory follows what is kept, not what was read. */
  slim?: (o: KubeObject) => KubeObject;
}
