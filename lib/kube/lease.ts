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

/**
 * Who is asking: unique across hosts and runs, and able to tell a crashed run on this machine.
 * A hostname is not unique (containers sharing the host's UTS namespace, pods given one
 * `hostname:`), nor is a pid outside its PID namespace: only the boot id (one per running kernel)
 * with the PID namespace's inode says that a pid means the same process here as there.
 */
export interface LockIdentity {
  hostname: string;
  pid: number;
  /** This kernel's boot id and this process's PID namespace; undefined where they cannot be read. */
  machine(): { bootId: string; pidNamespace: string } | undefined;
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
  /**
   * Proves the lock is held at this moment by renewing it now: called right before a destructive
   * act, so a run that slept (a laptop lid) or was overtaken acts on nothing. Throws LockLostError.
   */
  confirm(): Promise<void>;
  release(): Promise<void>;
}

type RenewOutcome = 'renewed' | 'ours' | 'lost' | 'unknown';

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const recordOf = (l: LeaseObject | undefined) => JSON.stringify(l?.spec ?? {});

/** A holder identity: host/pid/random/purpose/boot id/PID namespace (older runs wrote only the first four). */
export function holderIdentity(me: LockIdentity, purpose: string, random = randomBytes(4).toString('hex')): string {
  const machine = me.machine();
  const where = machine ? `/${machine.bootId}/${machine.pidNamespace}` : '';
  return `${me.hostname}/${me.pid}/${random}/${purpose}${where}`;
}

/**
 * A holder that crashed on this very machine and PID namespace: the same host, boot id and PID
 * namespace, and its process gone. Anything less (a holder of an older version, a platform
 * without boot ids, another container with our hostname) is not known to be dead, so it is
 * waited for, as client-go does.
 */
export function deadLocalHolder(holder: string, me: LockIdentity): boolean {
  const [host, pid, , , bootId, pidNamespace] = holder.split('/');
  const machine = me.machine();
  if (!machine || !bootId || !pidNamespace || !pid || !/^\d+$/.test(pid)) return false;
  const here = host === me.hostname && bootId === machine.bootId && pidNamespace === machine.pidNamespace;
  if (!here || Number(pid) === me.pid) return false;
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
    /** The random part of the holder identity: the run's journal id, so history can tell a live run. */
    runId?: string,
  ) {
    this.holder = holderIdentity(me, purpose, runId);
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
    const holding = new Holding(this, acquired, this.settings, this.clock);
    return {
      holder: this.holder,
      signal: holding.lost.signal,
      check: () => holding.check(),
      confirm: () => holding.confirm(),
      release: async () => {
        if (await holding.stop()) await this.release().catch(() => undefined);
      },
    };
  }

  /** One renewal of the lease as last written: renewed, lost to another run, or unknown (no answer). */
  async renewOnce(current: LeaseObject, signal: AbortSignal): Promise<{ outcome: RenewOutcome; lease: LeaseObject }> {
    // No renewal may outlive the deadline: a frozen API server must not keep us waiting past it.
    const bounded = this.client.withSignal(
      AbortSignal.any([signal, AbortSignal.timeout(this.settings.renewDeadlineMs)]),
    );
    try {
      const lease = await bounded.replace<LeaseObject>(core.leases, {
        ...current,
        spec: { ...current.spec, renewTime: microTime(this.clock.now()) },
      });
      return { outcome: 'renewed', lease };
    } catch (err) {
      // A renewal answered 409 may be our own earlier write whose answer was lost.
      const latest = await bounded
        .find<LeaseObject>(core.leases, this.settings.name, this.settings.namespace)
        .catch(() => 'unknown' as const);
      if (latest !== 'unknown' && latest?.spec?.holderIdentity === this.holder)
        return { outcome: 'ours', lease: latest };
      if (latest !== 'unknown' && (latest || isNotFound(err))) return { outcome: 'lost', lease: current };
      return { outcome: 'unknown', lease: current };
    }
  }

  lostError(why: string) {
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

/**
 * A lease being held: renewed every renewEveryMs, and lost once it could not be renewed for
 * renewDeadlineMs. That deadline is measured on both clocks, the later wins: the monotonic one
 * stands still while a laptop sleeps, and the wall clock then says how long it really was.
 */
class Holding {
  readonly lost = new AbortController();
  private current: LeaseObject;
  private renewedAt: number;
  private renewedAtWall: number;
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly loops: Promise<void>[];

  constructor(
    private readonly lock: LeaseLock,
    acquired: LeaseObject,
    private readonly settings: LockSettings,
    private readonly clock: Clock,
  ) {
    this.current = acquired;
    this.renewedAt = clock.monotonic();
    this.renewedAtWall = clock.now();
    const loops = AbortSignal.any([this.lost.signal, this.stopping.signal]);
    const every = (ms: number, tick: () => Promise<void> | void) =>
      (async () => {
        while (this.running) {
          await clock.sleep(ms, loops);
          if (this.running) await tick();
        }
      })();
    // The deadline is watched on its own, so a renewal stuck in flight still ends the run in time.
    this.loops = [
      every(settings.renewEveryMs, async () => {
        await this.renew();
      }),
      every(1_000, () => this.loseIfOverdue()),
    ];
  }

  private get running() {
    return !this.stopped && !this.lost.signal.aborted;
  }

  private loseIfOverdue() {
    const { clock, settings } = this;
    const since = Math.max(clock.monotonic() - this.renewedAt, clock.now() - this.renewedAtWall);
    if (this.running && since > settings.renewDeadlineMs)
      this.lost.abort(this.lock.lostError(`could not renew it for ${settings.renewDeadlineMs / 1000}s`));
  }

  private async renew(): Promise<RenewOutcome> {
    const { outcome, lease } = await this.lock.renewOnce(this.current, this.lost.signal);
    this.current = lease;
    if (outcome === 'renewed') {
      this.renewedAt = this.clock.monotonic();
      this.renewedAtWall = this.clock.now();
    }
    if (outcome === 'lost' && !this.lost.signal.aborted)
      this.lost.abort(this.lock.lostError('another run took the lease over'));
    return outcome;
  }

  check() {
    this.loseIfOverdue();
    if (this.lost.signal.aborted) throw this.lost.signal.reason;
  }

  async confirm() {
    this.check();
    // Twice at most: the first may only learn that an earlier write of ours landed.
    let outcome = await this.renew();
    if (outcome === 'ours') outcome = await this.renew();
    this.check();
    if (outcome !== 'renewed')
      throw this.lock.lostError('could not confirm that this run still holds it: the API server did not answer');
  }

  /** Stops renewing; true the first time (the caller then gives the lease up). */
  async stop(): Promise<boolean> {
    if (this.stopped) return false;
    this.stopped = true;
    this.stopping.abort();
    await Promise.all(this.loops);
    return true;
  }
}
