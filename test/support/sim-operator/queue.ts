import { sleep } from '../kube';

/**
 * A keyed work queue in the manner of client-go's workqueue as controller-runtime drives it: a
 * key is processed by one worker at a time, a key added while it is being processed runs once
 * more afterwards, adds coalesce, a reconcile may ask to run again after a delay (RequeueAfter),
 * and a failed reconcile is retried after the per-key exponential backoff (AddRateLimited);
 * success forgets the key's failures. Each reconcile first waits its latency.
 */

export interface ReconcileResult {
  /** Run this key again after this many ms (a timed retry, not a polling loop). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined>;

export interface QueueOptions {
  workers?: number;
  /** ms before each reconcile runs (drawn anew each time). */
  latency?: () => number;
  backoff: { baseMs: number; maxMs: number };
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly stop = new AbortController();
  private stopped = false;

  constructor(
    private readonly reconcile: Reconcile,
    private readonly opts: QueueOptions,
  ) {}

  add(key: string) {
    if (this.stopped) return;
    this.pending.add(key);
    this.pump();
  }

  addAfter(key: string, ms: number) {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, timer });
  }

  /** The backoff the next failure of this key would get. */
  nextBackoff(key: string) {
    const n = (this.failures.get(key) ?? 0) + 1;
    return Math.min(this.opts.backoff.baseMs * 2 ** (n - 1), this.opts.backoff.maxMs);
  }

  /** Failures in a row of this key (0 after a success). */
  failuresOf(key: string) {
    return this.failures.get(key) ?? 0;
  }

  /** Nothing queued and nothing running (timed requeues do not count). */
  get idle() {
    return this.pending.size === 0 && this.active.size === 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  /** Takes no more work and resolves once the reconciles in flight have returned. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.stop.abort();
    this.pending.clear();
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.whenIdle();
  }

  private pump() {
    const workers = this.opts.workers ?? 8;
    for (const key of this.pending) {
      if (this.active.size >= workers) break;
      if (this.active.has(key)) continue;
      this.pending.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.idle) {
      for (const resolve of this.idleWaiters) resolve();
      this.idleWaiters.clear();
    }
  }

  private async run(key: string) {
    try {
      const latency = this.opts.latency?.() ?? 0;
      if (latency > 0) await sleep(latency, this.stop.signal);
      if (this.stopped) return;
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (!this.stopped) {
        const delay = this.nextBackoff(key);
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
        this.opts.onError?.(key, err, delay);
        this.addAfter(key, delay);
      }
    } finally {
      this.active.delete(key);
      this.pump();
    }
  }
}
