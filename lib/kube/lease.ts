import { randomBytes } from 'node:crypto';
import type { Clock } from '../deps';
import { PreflightError } from '../errors';
import { isAlreadyExists, isConflict, isNotFound } from './api-error';
import type { KubeClient } from './client';
import { core, type KubeObject } from './resources';
import { observe } from './watch';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  acquireTime?: string;
  leaseTransitions?: number;
}
interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export interface LockSettings {
  namespace: string;
  name: string;
  /** How long a holder's record must go unchanged, as this process sees it, before it counts as expired. */
  durationMs: number;
  /** How often the holder renews. */
  renewEveryMs: number;
  /** A holder that could not renew for this long stops changing things (less than durationMs). */
  renewDeadlineMs: number;
}

export const defaultLockSettings: Omit<LockSettings, 'namespace' | 'name'> = {
  durationMs: 30_000,
  renewEveryMs: 5_000,
  renewDeadlineMs: 20_000,
};

/** Who is asking: unique across hosts and runs, and able to tell a crashed run on this machine. */
export interface LockIdentity {
  hostname: string;
  pid: number;
  processAlive(pid: number): boolean;
}

/** Raised between objects when the lock could not be renewed: another run may now hold it. */
export class LockLostError extends PreflightError {}

export interface HeldLock {
  holder: string;
  /** Aborts once the lock is lost: requests made under the lock carry it. */
  signal: AbortSignal;
  /** Throws LockLostError once the lock is lost; called between objects. */
  check(): void;
  release(): Promise<void>;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const recordOf = (l: LeaseObject | undefined) => JSON.stringify(l?.spec ?? {});

/** A holder on this machine whose process is gone left its lock behind when it crashed. */
function deadLocalHolder(holder: string, me: LockIdentity): boolean {
  const [host, pid] = holder.split('/');
  if (host !== me.hostname || !pid || Number(pid) === me.pid) return false;
  return !me.processAlive(Number(pid));
}

/**
 * Mutual exclusion between kubectl vw runs, with client-go's leader-election semantics: a lease
 * counts as expired only when this process has seen its record stay unchanged for the lease's
 * duration, measured on this process's own monotonic clock, so no clock skew between machines
 * can hand a live lease to a second run. A holder that cannot renew within its deadline stops.
 */
export class LeaseLock {
  readonly holder: string;
  private observed?: { record: string; at: number };

  constructor(
    private readonly client: KubeClient,
    private readonly settings: LockSettings,
    private readonly clock: Clock,
    private readonly me: LockIdentity,
    purpose: string,
  ) {
    this.holder = `${me.hostname}/${me.pid}/${randomBytes(4).toString('hex')}/${purpose}`;
  }

  private spec(now: number, acquired?: string, transitions = 0): LeaseSpec {
    return {
      holderIdentity: this.holder,
      leaseDurationSeconds: Math.ceil(this.settings.durationMs / 1000),
      renewTime: microTime(now),
      acquireTime: acquired ?? microTime(now),
      leaseTransitions: transitions,
    };
  }

  private read() {
    return this.client.find<LeaseObject>(core.leases, this.settings.name, this.settings.namespace);
  }

  /** Notes the record as seen now, if it changed since last seen: the start of its expiry clock. */
  private observe(lease: LeaseObject | undefined) {
    const record = recordOf(lease);
    if (this.observed?.record !== record) this.observed = { record, at: this.clock.monotonic() };
  }

  private validFor(lease: LeaseObject): number {
    const holder = lease.spec?.holderIdentity;
    if (!holder || holder === this.holder || deadLocalHolder(holder, this.me)) return 0;
    // As client-go: the holder's own record says how long its lease lasts.
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.settings.durationMs / 1000) * 1000;
    return Math.max(0, (this.observed?.at ?? 0) + durationMs - this.clock.monotonic());
  }

  /** One attempt: the lease if it is now ours, 'held' if another live holder has it, 'retry' on a race. */
  private async tryAcquire(): Promise<LeaseObject | 'held' | 'retry'> {
    const { name, namespace } = this.settings;
    const lease = await this.read();
    this.observe(lease);
    try {
      if (!lease) {
        const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } };
        return await this.client.create<LeaseObject>(
          core.leases,
          { ...body, spec: this.spec(this.clock.now()) },
          namespace,
        );
      }
      if (this.validFor(lease) > 0) return 'held';
      const transitions = (lease.spec?.leaseTransitions ?? 0) + 1;
      return await this.client.replace<LeaseObject>(core.leases, {
        ...lease,
        spec: this.spec(this.clock.now(), undefined, transitions),
      });
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) throw err;
      // Our own write may have landed with its answer lost: then the lease names us.
      const now = await this.read();
      return now?.spec?.holderIdentity === this.holder ? now : 'retry';
    }
  }

  /**
   * Waits until the holder's record changes (it is alive: refuse) or stays unchanged for the
   * lease duration (it is gone: take over). Returns true when it changed.
   */
  private async holderRenewed(lease: LeaseObject, signal: AbortSignal): Promise<boolean> {
    const { name, namespace } = this.settings;
    const before = this.observed?.record;
    const stop = new AbortController();
    const waitMs = Math.max(1, this.validFor(lease));
    const timer = AbortSignal.timeout(Math.ceil(waitMs) + 250);
    const both = AbortSignal.any([stop.signal, timer, signal]);
    let changed = false;
    const seen = (l: KubeObject | undefined) => {
      if (recordOf(l as LeaseObject | undefined) === before) return;
      changed = true;
      stop.abort();
    };
    await observe(this.client, core.leases, {
      namespace,
      fieldSelector: `metadata.name=${name}`,
      signal: both,
      onList: (items) => seen(items[0]),
      onEvent: (type, obj) => seen(type === 'DELETED' ? undefined : obj),
    });
    return changed;
  }

  async acquire(signal: AbortSignal, onWait?: (holder: string, ms: number) => void): Promise<HeldLock> {
    const { name, namespace } = this.settings;
    for (let attempt = 0; attempt < 10 && !signal.aborted; attempt++) {
      const got = await this.tryAcquire();
      if (got === 'retry') continue;
      if (got !== 'held') return this.hold(got);
      const lease = await this.read();
      if (!lease) continue;
      this.observe(lease);
      onWait?.(lease.spec?.holderIdentity ?? '', this.validFor(lease));
      if (await this.holderRenewed(lease, signal)) {
        const latest = await this.read();
        if (latest?.spec?.holderIdentity) {
          const since = latest.spec.acquireTime ?? latest.spec.renewTime ?? 'unknown';
          throw new PreflightError(
            `another kubectl vw run holds the lock (Lease ${namespace}/${name}, holder ${latest.spec.holderIdentity}, since ${since})`,
            `wait for it to finish; a crashed run's lock is taken over ${this.settings.durationMs / 1000}s after its last renewal`,
          );
        }
      }
    }
    throw new PreflightError(`could not take the lock Lease ${namespace}/${name}: it kept changing`, 'try again');
  }

  private hold(acquired: LeaseObject): HeldLock {
    const lost = new AbortController();
    const { renewEveryMs, renewDeadlineMs } = this.settings;
    let current = acquired;
    let renewedAt = this.clock.monotonic();
    let stopped = false;
    const stop = new AbortController();
    const loops = AbortSignal.any([lost.signal, stop.signal]);
    const overdue = () => this.clock.monotonic() - renewedAt > renewDeadlineMs;
    const loseIfOverdue = () => {
      if (!stopped && overdue() && !lost.signal.aborted)
        lost.abort(this.lostError(`could not renew it for ${renewDeadlineMs / 1000}s`));
    };
    const renew = async () => {
      // No renewal may outlive the deadline: a frozen API server must not keep us waiting past it.
      const bounded = this.client.withSignal(AbortSignal.any([lost.signal, AbortSignal.timeout(renewDeadlineMs)]));
      try {
        current = await bounded.replace<LeaseObject>(core.leases, {
          ...current,
          spec: { ...current.spec, renewTime: microTime(this.clock.now()) },
        });
        renewedAt = this.clock.monotonic();
      } catch (err) {
        // A renewal answered 409 may be our own earlier write whose answer was lost.
        const latest = await bounded
          .find<LeaseObject>(core.leases, this.settings.name, this.settings.namespace)
          .catch(() => 'unknown' as const);
        if (latest !== 'unknown' && latest?.spec?.holderIdentity === this.holder) current = latest;
        else if (latest !== 'unknown' && (latest || isNotFound(err)))
          lost.abort(this.lostError('another run took the lease over'));
      }
    };
    const renewing = (async () => {
      while (!stopped && !lost.signal.aborted) {
        await this.clock.sleep(renewEveryMs, loops);
        if (!stopped && !lost.signal.aborted) await renew();
      }
    })();
    // The deadline is watched on its own, so a renewal stuck in flight still ends the run in time.
    const watchdog = (async () => {
      while (!stopped && !lost.signal.aborted) {
        await this.clock.sleep(1_000, loops);
        loseIfOverdue();
      }
    })();
    return {
      holder: this.holder,
      signal: lost.signal,
      check: () => {
        loseIfOverdue();
        if (lost.signal.aborted) throw lost.signal.reason;
      },
      release: async () => {
        if (stopped) return;
        stopped = true;
        stop.abort();
        await Promise.all([renewing, watchdog]);
        await this.release().catch(() => undefined);
      },
    };
  }

  private lostError(why: string) {
    const { namespace, name } = this.settings;
    return new LockLostError(
      `lost the lock Lease ${namespace}/${name} (${why}): stopped between objects`,
      'run the same command again; it goes on from where it stopped',
    );
  }

  /** Gives the lease up at once, as client-go's ReleaseOnCancel does, if it still names us. */
  private async release() {
    const { name, namespace } = this.settings;
    await this.client.update<LeaseObject>(core.leases, name, namespace, (l) =>
      l.spec?.holderIdentity === this.holder
        ? {
            ...l,
            spec: {
              ...l.spec,
              holderIdentity: undefined,
              leaseDurationSeconds: 1,
              renewTime: microTime(this.clock.now()),
            },
          }
        : undefined,
    );
  }
}
