// What the checks actually examined. An invariant that examined nothing proved nothing, so every
// check counts its cases per schedule, and the campaign's summary prints the totals: a check that
// stays at 0 across a campaign is a check that cannot fail.

export const invariants = [
  'exit',
  'writes',
  'operator-namespace',
  'deletions',
  'hand-objects',
  'lease-released',
  'lock-writes',
  'lock-takeover',
  'dead-holder',
  'overlap',
  'order',
  'status',
  'persists',
  'decoy',
  'duplicates',
] as const;

export type Invariant = (typeof invariants)[number];

export class Tally {
  readonly counts = new Map<Invariant, number>();

  count(invariant: Invariant, n = 1) {
    this.counts.set(invariant, (this.counts.get(invariant) ?? 0) + n);
  }

  get(invariant: Invariant): number {
    return this.counts.get(invariant) ?? 0;
  }

  add(other: Tally) {
    for (const [k, n] of other.counts) this.count(k, n);
  }
}
