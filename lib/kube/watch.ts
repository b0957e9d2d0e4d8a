import { createInterface } from 'node:readline';
import { sleep } from '../concurrency';
import { ApiError } from './api-error';
import type { KubeClient } from './client';
import { type KubeObject, type ResourceType, resourcePath } from './resources';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObserveOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called after every (re)list with the full current set, before further events. */
  onList?: (items: KubeObject[]) => void;
  onEvent: (type: WatchEventType, obj: KubeObject) => void;
  /** Reported on each reconnect; the watch goes on regardless. */
  onError?: (err: unknown) => void;
  signal: AbortSignal;
}

/** Reconnects back off exponentially with full jitter, so a failing watch never spins. */
export const reconnectDelayMs = (failures: number) => Math.random() * Math.min(250 * 2 ** failures, 10_000);

/**
 * List, then watch from the list's resourceVersion; on disconnect resume from the last seen
 * resourceVersion, and relist when the server says it is too old (410 Gone). This is the
 * informer pattern without the cache: callers keep whatever state they need.
 */
export async function observe(client: KubeClient, r: ResourceType, opts: ObserveOptions): Promise<void> {
  const { signal } = opts;
  const scoped = client.withSignal(signal);
  let resourceVersion: string | undefined;
  let failures = 0;
  const selectors = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const listed = await scoped.list(r, { namespace: opts.namespace, ...selectors });
        resourceVersion = listed.resourceVersion;
        opts.onList?.(listed.items);
      }
      const res = await scoped.stream(resourcePath(r, { namespace: opts.namespace }), {
        watch: 1,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: 300,
        ...selectors,
      });
      let events = 0;
      const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: KubeObject & { code?: number; message?: string } };
        if (ev.type === 'ERROR') {
          // An in-band error ends this watch; 410 means our resourceVersion is too old: relist.
          if (ev.object.code === 410) resourceVersion = undefined;
          throw new ApiError(ev.object.code ?? 500, 'WatchError', ev.object.message ?? 'watch error');
        }
        events++;
        resourceVersion = ev.object.metadata?.resourceVersion ?? resourceVersion;
        if (ev.type === 'BOOKMARK') continue;
        opts.onEvent(ev.type as WatchEventType, ev.object);
      }
      // A watch that ended cleanly after delivering events reconnects at once; an empty one waits.
      failures = events ? 0 : failures + 1;
      if (!events) await sleep(reconnectDelayMs(failures), signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 410) resourceVersion = undefined;
      else if (err instanceof ApiError && err.status !== 429 && err.status < 500 && err.reason !== 'WatchError')
        throw err;
      opts.onError?.(err);
      failures++;
      await sleep(reconnectDelayMs(failures), signal);
    }
  }
}

export const objectKey = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export interface WaitOutcome {
  satisfied: string[];
  pending: string[];
  timedOut: boolean;
}

export interface WaitOptions {
  /** A hard bound: every request of the wait carries it. */
  timeoutMs: number;
  /** Stops the wait early (Ctrl-C); the outcome then says what was pending. */
  signal?: AbortSignal;
  namespace?: string;
  labelSelector?: string;
  onChange?: (key: string, obj: KubeObject | undefined, satisfied: boolean) => void;
}

/**
 * Waits through a watch until `done` holds for every key in `keys` ("ns/name"); a deleted
 * object is passed as undefined. Returns which keys never got there when the time is up.
 */
export async function waitForObjects(
  client: KubeClient,
  r: ResourceType,
  keys: Iterable<string>,
  done: (obj: KubeObject | undefined) => boolean,
  opts: WaitOptions,
): Promise<WaitOutcome> {
  const wanted = new Set(keys);
  const satisfied = new Set<string>();
  if (wanted.size === 0) return { satisfied: [], pending: [], timedOut: false };
  const controller = new AbortController();
  const stop = () => controller.abort();
  const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(opts.timeoutMs)));
  deadline.addEventListener('abort', stop, { once: true });
  opts.signal?.addEventListener('abort', stop, { once: true });
  const consider = (key: string, obj: KubeObject | undefined) => {
    if (!wanted.has(key)) return;
    const ok = done(obj);
    const was = satisfied.has(key);
    if (ok) satisfied.add(key);
    else satisfied.delete(key);
    if (ok !== was || !ok) opts.onChange?.(key, obj, ok);
    if (satisfied.size === wanted.size) stop();
  };
  let failure: unknown;
  await observe(client, r, {
    namespace: opts.namespace,
    labelSelector: opts.labelSelector,
    signal: controller.signal,
    onList: (items) => {
      const present = new Map(items.map((o) => [objectKey(o), o]));
      for (const key of wanted) consider(key, present.get(key));
    },
    onEvent: (type, obj) => consider(objectKey(obj), type === 'DELETED' ? undefined : obj),
  }).catch((err) => {
    failure = err;
  });
  opts.signal?.removeEventListener('abort', stop);
  if (failure) throw failure;
  const pending = [...wanted].filter((k) => !satisfied.has(k));
  return { satisfied: [...satisfied], pending, timedOut: pending.length > 0 && !opts.signal?.aborted };
}

/**
 * waitForObjects, one watch per namespace the keys ("ns/name") name, at once: a wait needs rights
 * only where its objects are (Velero's Backups in Velero's namespace), never cluster-wide.
 */
export async function waitForObjectsIn(
  client: KubeClient,
  r: ResourceType,
  keys: Iterable<string>,
  done: (obj: KubeObject | undefined) => boolean,
  opts: Omit<WaitOptions, 'namespace'>,
): Promise<WaitOutcome> {
  const byNamespace = new Map<string, string[]>();
  for (const key of keys) {
    const ns = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
    const same = byNamespace.get(ns);
    if (same) same.push(key);
    else byNamespace.set(ns, [key]);
  }
  const outcomes = await Promise.all(
    [...byNamespace].map(([namespace, ks]) =>
      waitForObjects(client, r, ks, done, { ...opts, namespace: namespace || undefined }),
    ),
  );
  return {
    satisfied: outcomes.flatMap((o) => o.satisfied),
    pending: outcomes.flatMap((o) => o.pending),
    timedOut: outcomes.some((o) => o.timedOut),
  };
}
