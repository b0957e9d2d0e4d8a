/**
 * A keyed work queue in the manner of client-go's workqueue: a key is processed by one worker at
 * a time, a key added while it is being processed runs once more afterwards, adds coalesce, and a
 * reconcile may ask to be run again after a delay (RequeueAfter). Failures back off per key.
 */

export interface ReconcileResult {
  /** Run this key again after this many ms (a timed retry, not a polling loop). */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined>;

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly reconcile: Reconcile,
    private readonly opts: { workers?: number; onError?: (key: string, err: unknown) => void } = {},
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
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (!this.stopped) {
        this.opts.onError?.(key, err);
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.addAfter(key, Math.min(100 * 2 ** (n - 1), 5_000));
      }
    } finally {
      this.active.delete(key);
      this.pump();
    }
  }
}
