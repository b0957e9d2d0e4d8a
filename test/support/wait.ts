import type { Resource } from './contract';
import { Informer, type Kube, type KubeObject, objectKey } from './kube';

// What tests use to wait without racing: poll a condition until it holds (tests may poll; the
// simulated operator may not), and record every version of the objects a watch delivers, so a
// sequence of phases can be asserted after the fact rather than sampled.

/** Polls `probe` until it returns something other than undefined/false, or fails with `what`. */
export async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

export interface Seen<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  at: number;
  object: T;
}

/** Every version of every object of a kind (in a namespace, matching selectors) a watch delivers. */
export class History<T extends KubeObject = KubeObject> {
  private readonly abort = new AbortController();
  private readonly seen = new Map<string, Seen<T>[]>();
  private readonly informer: Informer<T>;

  constructor(kube: Kube, resource: Resource, opts: { namespace?: string; labelSelector?: string } = {}) {
    this.informer = new Informer<T>(kube, resource, { ...opts, signal: this.abort.signal });
    this.informer.on((type, object) => {
      const key = objectKey(object);
      const list = this.seen.get(key) ?? [];
      list.push({ type, at: Date.now(), object });
      this.seen.set(key, list);
    });
  }

  start() {
    return this.informer.start();
  }

  stop() {
    this.abort.abort();
  }

  /** Every version of `namespace/name` seen, in order. */
  of(namespace: string | undefined, name: string): Seen<T>[] {
    return this.seen.get(`${namespace ?? ''}/${name}`) ?? [];
  }

  /** The values of `pick` over the versions seen, with consecutive repeats collapsed. */
  sequence<V>(namespace: string | undefined, name: string, pick: (o: T) => V): V[] {
    const out: V[] = [];
    for (const s of this.of(namespace, name)) {
      if (s.type === 'DELETED') continue;
      const v = pick(s.object);
      if (out.length === 0 || JSON.stringify(out[out.length - 1]) !== JSON.stringify(v)) out.push(v);
    }
    return out;
  }

  keys(): string[] {
    return [...this.seen.keys()];
  }
}
