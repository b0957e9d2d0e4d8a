import type { LeaseTimeline } from './lease-watch';
import { aliveAt, holdersOf, type Run, realWrites } from './runs';
import type { Tally } from './tally';

// The lock's promise, held against what happened: the Lease's history (the checker's own watch),
// every run's writes (its proxy's record, each run has one) and its output. No run writes while
// another live run holds the lease; a run writes only while it holds it (a lease lost by hand is
// noticed at the next renewal, and never acted under); and no live holder's lease is taken over
// before it stood still for the lease's duration. A run that ended on this machine without letting go
// (SIGKILLed, or interrupted and its release not taken by the API server within the 2.5 s an
// interrupted run has in all) is taken over at once by the next run here, not after a 30 s wait.

/** The checker sees a change a little after the API server made it: decisions closer than this are not judged. */
const toleranceMs = 1_000;
/** The product's settings (lib/kube/lease.ts): how often a holder renews, how long a lease lasts. */
const renewEveryMs = 5_000;
const durationMs = 30_000;

export interface LockFacts {
  timeline: LeaseTimeline;
  runs: Run[];
  /** Holders written into the Lease by hand (the lock-lost fault): live holders of another machine. */
  handHolders: Set<string>;
  tally: Tally;
}

type Owner = Run | 'hand' | undefined;

function ownerFinder(f: LockFacts): (holder: string | undefined) => Owner {
  const byHolder = new Map<string, Run>();
  for (const r of f.runs) for (const h of holdersOf(r)) byHolder.set(h, r);
  return (holder) => (holder === undefined ? undefined : f.handHolders.has(holder) ? 'hand' : byHolder.get(holder));
}

const label = (o: Owner) => (o === 'hand' ? 'a holder written by hand' : (o?.label ?? 'an unknown holder'));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Takeovers: from a live holder only once its record stood still for the lease's duration. */
function checkTakeovers(f: LockFacts, ownerOf: (h: string | undefined) => Owner): string[] {
  const out: string[] = [];
  const holdings = f.timeline.holdings();
  for (let i = 1; i < holdings.length; i++) {
    const prev = holdings[i - 1] as (typeof holdings)[number];
    const next = holdings[i] as (typeof holdings)[number];
    if (prev.to !== next.from) continue; // released in between: not a takeover
    const was = ownerOf(prev.holder);
    const now = ownerOf(next.holder);
    if (!now || now === 'hand' || was === now) continue;
    f.tally.count('lock-takeover');
    const stood = next.from - (prev.renewals.at(-1) ?? prev.from);
    const live = was === 'hand' || was === undefined || aliveAt(was, next.from - toleranceMs);
    if (live && stood < durationMs - toleranceMs)
      out.push(
        `${now.label} took the lock over from ${label(was)} (${prev.holder}), which was alive and had renewed it ${secs(stood)} before`,
      );
    if (was && was !== 'hand' && !live && was.killedWith && now.startedAt > (was.exitedAt ?? 0)) {
      f.tally.count('dead-holder');
      if (now.stderr.includes(`another run (${prev.holder}) holds the lock`))
        out.push(
          `${now.label} waited for ${was.label}'s lease although that run ended (${was.killedWith}) on this machine`,
        );
    }
  }
  return out;
}

/** The holders in force at some moment of [t - tolerance, t + tolerance]. */
function holdersAround(f: LockFacts, t: number): (string | undefined)[] {
  const around = f.timeline.entries.filter((e) => e.at > t - toleranceMs && e.at <= t + toleranceMs);
  return [f.timeline.at(t - toleranceMs).holder, ...around.map((e) => e.holder)];
}

/** Every write of a run made while it held the lock, and none while another live run held it. */
function checkWrites(f: LockFacts, ownerOf: (h: string | undefined) => Owner): string[] {
  const out: string[] = [];
  for (const run of f.runs) {
    const mine = holdersOf(run);
    for (const w of realWrites(run)) {
      const t = (w.forwardedAt ?? w.time).getTime();
      f.tally.count('lock-writes');
      const holders = holdersAround(f, t);
      const others = holders.map(ownerOf).filter((o): o is Run => !!o && o !== 'hand' && o !== run && aliveAt(o, t));
      if (others.length === holders.length) {
        out.push(`${run.label}: ${w.method} ${w.path} while ${others[0]?.label} held the lock`);
        continue;
      }
      if (holders.some((h) => h !== undefined && mine.has(h))) continue;
      // Not held at the moment: lost since (noticed at the next renewal), or never taken.
      const heldUntil = Math.max(
        ...f.timeline
          .holdings()
          .filter((h) => mine.has(h.holder) && h.from <= t)
          .map((h) => h.to),
        -Infinity,
      );
      const destructive = w.method === 'DELETE';
      if (destructive || t - heldUntil > renewEveryMs + toleranceMs)
        out.push(
          `${run.label}: ${w.method} ${w.path} without holding the lock${heldUntil > 0 ? ` (lost ${secs(t - heldUntil)} before)` : ''}`,
        );
    }
  }
  return out;
}

export function checkLockSafety(f: LockFacts): string[] {
  const ownerOf = ownerFinder(f);
  return [...checkTakeovers(f, ownerOf), ...checkWrites(f, ownerOf)];
}

/**
 * Once every run so far has ended, the lease is free, or held by hand, or by a run that could not
 * let go: SIGKILLed, or interrupted (SIGINT, SIGTERM) with its release unanswered (an interrupted
 * run has 2.5 s in all, 1 s for the release: an API server too slow for that keeps the lease, and
 * checkTakeovers holds the next run on this machine to taking it over at once). A run that ended
 * any other way, or whose release was answered, released it.
 */
export function checkLeaseReleased(f: LockFacts): string[] {
  f.tally.count('lease-released');
  const holder = f.timeline.holder;
  if (!holder) return [];
  const owner = ownerFinder(f)(holder);
  if (owner === 'hand') return [];
  if (owner?.killedWith && !aliveAt(owner, Date.now())) {
    if (owner.killedWith === 'SIGKILL') return [];
    const release = owner.proxy.requests.filter((q) => q.path.includes('/leases') && q.method !== 'GET').at(-1);
    const answered =
      release &&
      release.status !== undefined &&
      release.status < 300 &&
      release.time.getTime() >= (owner.killedAt ?? 0);
    if (!answered) return [];
  }
  // Its last word to the Lease (the release) met a fault and got no answer: it could not let go.
  const last = owner?.proxy.requests.filter((q) => q.path.includes('/leases')).at(-1);
  if (last && last.rule !== undefined && last.status === undefined) return [];
  return [`the lock is still held by ${holder} (${label(owner)}) after every run ended`];
}
