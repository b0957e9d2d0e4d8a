import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { ObjectMeta, Resource } from './contract';

// The test world's own way to the API server: raw REST over node:https with the kubeconfig's
// credentials (client-node's KubeConfig.applyToHTTPSOptions: certificates, tokens, exec plugins).
// Independent of the product's client on purpose: the world the product is tested in must not
// share its bugs. Informer is list-then-watch from the list's resourceVersion, a relist on 410
// Gone, and reconnects with jittered backoff, as client-go's reflector does.

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(`${status} ${reason}: ${message}`);
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof KubeError && e.status === 409;
export const isAlreadyExists = (e: unknown) => isConflict(e) && (e as KubeError).reason === 'AlreadyExists';
export const isGone = (e: unknown) => e instanceof KubeError && e.status === 410;
export const isInvalid = (e: unknown) => e instanceof KubeError && e.status === 422;

export const objectKey = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface KubeOptions {
  /** The API server derives managedFields managers from it (up to the first '/'). */
  userAgent?: string;
  maxSockets?: number;
  /** Attempts of a request answered 429 (honouring Retry-After) or failing to connect (GETs). */
  maxAttempts?: number;
}

export interface PathOptions {
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
}

type Query = Record<string, string | number | boolean | undefined>;

export class Kube {
  readonly server: string;
  readonly userAgent: string;
  private readonly kc: KubeConfig;
  private readonly agent: http.Agent;
  private readonly maxAttempts: number;
  private auth?: { at: number; opts: https.RequestOptions };

  constructor(kc: KubeConfig, opts: KubeOptions = {}) {
    this.kc = kc;
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('kubeconfig has no current cluster');
    this.server = server.replace(/\/+$/, '');
    this.userAgent = opts.userAgent ?? 'vworkspace-test-world/v0.1.0';
    this.maxAttempts = opts.maxAttempts ?? 4;
    const base = { keepAlive: true, maxSockets: opts.maxSockets ?? 16 };
    this.agent = this.server.startsWith('https:') ? new https.Agent(base) : new http.Agent(base);
  }

  static fromFile(kubeconfig: string, opts: KubeOptions = {}): Kube {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    return new Kube(kc, opts);
  }

  close() {
    this.agent.destroy();
  }

  private async authOptions(): Promise<https.RequestOptions> {
    if (this.auth && Date.now() - this.auth.at < 60_000) return this.auth.opts;
    const opts: https.RequestOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    // client-node builds an agent of its own; ours (keep-alive, bounded) is used instead.
    delete opts.agent;
    this.auth = { at: Date.now(), opts };
    return opts;
  }

  path(r: Resource, p: PathOptions = {}): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && p.namespace ? `/namespaces/${encodeURIComponent(p.namespace)}` : '';
    const name = p.name ? `/${encodeURIComponent(p.name)}` : '';
    const sub = p.subresource ? `/${p.subresource}` : '';
    return `${base}${ns}/${r.plural}${name}${sub}`;
  }

  private url(path: string, query?: Query) {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url;
  }

  private async open(
    method: string,
    url: URL,
    body: string | undefined,
    contentType: string | undefined,
    signal?: AbortSignal,
    agent?: http.Agent | false,
  ): Promise<http.IncomingMessage> {
    const auth = await this.authOptions();
    const headers: Record<string, string | string[]> = {
      ...(auth.headers as Record<string, string | string[]>),
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { ...auth, method, headers, agent: agent ?? this.agent, signal }, (res) =>
        resolve(res),
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** One request; 429 is retried after Retry-After, a failed connection of a GET with backoff. */
  async request<T>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const url = this.url(path, opts.query);
    for (let attempt = 1; ; attempt++) {
      let res: http.IncomingMessage;
      try {
        res = await this.open(method, url, body, opts.contentType, opts.signal);
      } catch (err) {
        if (method !== 'GET' || attempt >= this.maxAttempts || opts.signal?.aborted) throw err;
        await sleep(100 * 2 ** attempt * (0.5 + Math.random() / 2), opts.signal);
        continue;
      }
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
      const err = errorOf(status, res.statusMessage, text, res.headers['retry-after'] as string | undefined);
      if (status === 429 && attempt < this.maxAttempts && !opts.signal?.aborted) {
        await sleep(Math.max((err.retryAfterSeconds ?? 0) * 1000, 50 * attempt), opts.signal);
        continue;
      }
      throw err;
    }
  }

  get<T extends KubeObject = KubeObject>(r: Resource, name: string, namespace?: string): Promise<T> {
    return this.request<T>('GET', this.path(r, { namespace, name }));
  }

  async find<T extends KubeObject = KubeObject>(r: Resource, name: string, namespace?: string) {
    try {
      return await this.get<T>(r, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Every page of a list (limit/continue); the resourceVersion is the last page's. */
  async list<T extends KubeObject = KubeObject>(
    r: Resource,
    opts: ListOptions = {},
  ): Promise<{ items: T[]; resourceVersion?: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.request<ObjectList<T>>('GET', this.path(r, { namespace: opts.namespace }), {
        query: {
          limit: opts.limit ?? 500,
          continue: cont,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
        },
      });
      items.push(...page.items);
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  create<T extends KubeObject = KubeObject>(r: Resource, obj: unknown, namespace?: string): Promise<T> {
    const ns = namespace ?? (obj as KubeObject).metadata?.namespace;
    return this.request<T>('POST', this.path(r, { namespace: ns }), { body: obj });
  }

  /** PUT of a whole object (its resourceVersion makes it conditional). */
  replace<T extends KubeObject = KubeObject>(r: Resource, obj: KubeObject, subresource?: string): Promise<T> {
    return this.request<T>(
      'PUT',
      this.path(r, { namespace: obj.metadata.namespace, name: obj.metadata.name, subresource }),
      { body: obj },
    );
  }

  /**
   * Read-modify-write, re-read on 409: `mutate` gets the latest object and returns the new one,
   * or undefined when nothing needs to change.
   */
  async update<T extends KubeObject>(
    r: Resource,
    name: string,
    namespace: string | undefined,
    mutate: (current: T) => T | undefined,
  ): Promise<{ object: T; changed: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get<T>(r, name, namespace);
      const next = mutate(structuredClone(current));
      if (!next) return { object: current, changed: false };
      try {
        return { object: await this.replace<T>(r, next), changed: true };
      } catch (err) {
        if (!isConflict(err) || attempt >= 10) throw err;
      }
    }
  }

  /** JSON merge patch (RFC 7386). */
  mergePatch<T extends KubeObject = KubeObject>(
    r: Resource,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', this.path(r, { namespace, name, subresource }), {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** JSON patch (RFC 6902); with a `test` op it changes nothing unless the object is as seen. */
  jsonPatch<T extends KubeObject = KubeObject>(
    r: Resource,
    name: string,
    namespace: string | undefined,
    ops: unknown[],
    subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', this.path(r, { namespace, name, subresource }), {
      body: ops,
      contentType: 'application/json-patch+json',
    });
  }

  /** A merge patch of `status` through the status subresource. */
  patchStatus<T extends KubeObject = KubeObject>(
    r: Resource,
    name: string,
    namespace: string | undefined,
    status: unknown,
    resourceVersion?: string,
  ): Promise<T> {
    return this.mergePatch<T>(
      r,
      name,
      namespace,
      { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status },
      'status',
    );
  }

  delete(r: Resource, name: string, namespace?: string, opts: DeleteOptions = {}): Promise<KubeObject> {
    return this.request<KubeObject>('DELETE', this.path(r, { namespace, name }), {
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: opts.propagationPolicy ?? 'Background',
        ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
      },
    });
  }

  /** delete, where "not found" counts as done. */
  async deleteIfExists(r: Resource, name: string, namespace?: string, opts: DeleteOptions = {}): Promise<boolean> {
    try {
      await this.delete(r, name, namespace, opts);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * One watch request from a resourceVersion: yields events until the server ends the stream or
   * the signal aborts. An HTTP error (410 Gone above all) is thrown as a KubeError.
   */
  async *watch<T extends KubeObject = KubeObject>(
    r: Resource,
    opts: ListOptions & { resourceVersion?: string; timeoutSeconds?: number; signal?: AbortSignal },
  ): AsyncGenerator<WatchEvent<T>> {
    const url = this.url(this.path(r, { namespace: opts.namespace }), {
      watch: 1,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      timeoutSeconds: opts.timeoutSeconds,
    });
    // A watch gets a connection of its own, so it never queues behind the bounded request sockets.
    const res = await this.open('GET', url, undefined, undefined, opts.signal, false);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw errorOf(status, res.statusMessage, await readAll(res));
    }
    res.setEncoding('utf8');
    let pending = '';
    try {
      for await (const chunk of res as AsyncIterable<string>) {
        pending += chunk;
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
          nl = pending.indexOf('\n');
        }
      }
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    } finally {
      res.destroy();
    }
  }
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function errorOf(status: number, statusMessage: string | undefined, text: string, retryAfter?: string) {
  let reason = statusMessage ?? '';
  let message = text.trim() || `HTTP ${status}`;
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status object
  }
  const seconds = retryAfter === undefined ? undefined : Number(retryAfter);
  return new KubeError(
    status,
    reason,
    message,
    seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined,
  );
}

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';
export type InformerHandler<T> = (type: InformerEvent, obj: T, old: T | undefined) => void;

export interface InformerOptions extends ListOptions {
  signal: AbortSignal;
  onError?: (err: unknown) => void;
  /** Reconnect backoff after a failure: base, doubling to max, each jittered (default 200 ms to 10 s). */
  backoff?: { baseMs: number; maxMs: number };
}

/**
 * A cache of one kind (in one namespace or all) kept by list-then-watch. Handlers get every
 * change with the previous version; after a relist (410 Gone, or a reconnect that had to list
 * again) they get the difference, deletions included, so no event is lost.
 */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private synced = false;

  constructor(
    private readonly kube: Kube,
    readonly resource: Resource,
    private readonly opts: InformerOptions,
  ) {}

  on(handler: InformerHandler<T>): this {
    this.handlers.push(handler);
    return this;
  }

  get hasSynced() {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Runs until the signal aborts; resolves (the returned promise) once the first list is in. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.run(resolve).catch((err) => {
        if (!this.synced) reject(err);
        else this.opts.onError?.(err);
      });
    });
  }

  private emit(type: InformerEvent, obj: T, old: T | undefined) {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private async relist(): Promise<string | undefined> {
    const { items, resourceVersion } = await this.kube.list<T>(this.resource, this.opts);
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('ADDED', obj, undefined);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('MODIFIED', obj, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit('DELETED', old, old);
    }
    return resourceVersion;
  }

  private async run(onSynced: () => void) {
    const { signal } = this.opts;
    const backoff = this.opts.backoff ?? { baseMs: 200, maxMs: 10_000 };
    let failures = 0;
    let rv: string | undefined;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          rv = await this.relist();
          if (!this.synced) {
            this.synced = true;
            onSynced();
          }
        }
        // Servers end a watch after a while; client-go asks for 5-10 minutes.
        const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
        for await (const ev of this.kube.watch<T>(this.resource, {
          ...this.opts,
          resourceVersion: rv,
          timeoutSeconds,
        })) {
          failures = 0;
          if (ev.type === 'ERROR') {
            const status = ev.object as unknown as { code?: number; reason?: string; message?: string };
            throw new KubeError(status.code ?? 500, status.reason ?? 'Error', status.message ?? 'watch error');
          }
          rv = ev.object.metadata.resourceVersion ?? rv;
          if (ev.type === 'BOOKMARK') continue;
          const key = objectKey(ev.object);
          const old = this.cache.get(key);
          if (ev.type === 'DELETED') this.cache.delete(key);
          else this.cache.set(key, ev.object);
          this.emit(ev.type === 'ADDED' && old ? 'MODIFIED' : ev.type, ev.object, old);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (!this.synced) throw err;
        if (isGone(err)) {
          // Too old a resourceVersion: list again and hand out the difference.
          rv = undefined;
          continue;
        }
        failures++;
        this.opts.onError?.(err);
        const delay = Math.min(backoff.baseMs * 2 ** (failures - 1), backoff.maxMs) * (0.5 + Math.random() / 2);
        await sleep(delay, signal);
        // A long outage may have outlived the resourceVersion: the next watch says so with 410.
      }
    }
  }
}
