import { Informer, type Kube, type KubeObject } from '../support/kube';

// The lock's Lease as the checker sees it, from a watch of its own: who held it from when. The
// lock-safety invariant holds every run's writes against this history, and faults that need a
// run holding the lock (a second run, the lease edited by hand) wait for it here.

export const leaseResource = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  namespaced: true,
};
export const lockNamespace = 'kube-system';
export const lockName = 'kubectl-vw';

export interface LeaseEntry {
  /** When the checker saw this record (its watch event arrived). */
  at: number;
  /** undefined: released (or no Lease). */
  holder?: string;
  renewTime?: string;
  resourceVersion: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  renewTime?: string;
}

export class LeaseTimeline {
  readonly entries: LeaseEntry[] = [{ at: 0, resourceVersion: 0 }];
  readonly errors: string[] = [];
  private readonly abort = new AbortController();
  private readonly informer: Informer;
  private waiters: (() => void)[] = [];

  constructor(kube: Kube) {
    this.informer = new Informer(kube, leaseResource, {
      namespace: lockNamespace,
      fieldSelector: `metadata.name=${lockName}`,
      signal: this.abort.signal,
      onError: (e) => this.errors.push(String(e)),
    }).on((type, obj) => this.seen(type === 'DELETED' ? undefined : obj));
  }

  start() {
    return this.informer.start();
  }

  stop() {
    this.abort.abort();
    for (const w of this.waiters.splice(0)) w();
  }

  private seen(lease: KubeObject | undefined) {
    const spec = lease?.spec as LeaseSpec | undefined;
    this.entries.push({
      at: Date.now(),
      holder: spec?.holderIdentity || undefined,
      renewTime: spec?.renewTime,
      resourceVersion: Number(lease?.metadata.resourceVersion ?? 0),
    });
    for (const w of this.waiters.splice(0)) w();
  }

  /** The holder the checker last saw. */
  get holder(): string | undefined {
    return this.entries.at(-1)?.holder;
  }

  /** The record in force at t (the last one seen at or before it). */
  at(t: number): LeaseEntry {
    let found = this.entries[0] as LeaseEntry;
    for (const e of this.entries) if (e.at <= t) found = e;
    return found;
  }

  /** Spans of one holder: from when it was first seen to when another record (holder) replaced it. */
  holdings(): { holder: string; from: number; to: number; renewals: number[] }[] {
    const out: { holder: string; from: number; to: number; renewals: number[] }[] = [];
    for (const e of this.entries) {
      const last = out.at(-1);
      if (last && last.to === Infinity && last.holder === e.holder) {
        last.renewals.push(e.at);
        continue;
      }
      if (last && last.to === Infinity) last.to = e.at;
      if (e.holder) out.push({ holder: e.holder, from: e.at, to: Infinity, renewals: [e.at] });
    }
    return out;
  }

  /** Resolves true once test(holder) holds, false when the time is up or the timeline stops. */
  async waitFor(test: (holder: string | undefined) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.holder)) {
      const left = deadline - Date.now();
      if (left <= 0 || this.abort.signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}
