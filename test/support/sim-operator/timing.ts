// How long things take in the simulated world. 'realistic' (the default everywhere) gives every
// reconcile, condition write and Velero phase a jittered delay of the order a real cluster shows,
// so the product is tested against an operator that answers late and out of step; 'fast' is for
// tests that measure something else (backoff, ordering) and want no noise.

/** [min, max] in ms; each use draws uniformly from it. */
export type Jitter = readonly [number, number];

export interface SimTiming {
  /** Before each reconcile runs (API round trips, the operator's own work). */
  reconcileLatencyMs: Jitter;
  /** Before the operator writes an ApplicationInstance's Suspended condition. */
  conditionDelayMs: Jitter;
  /** Before each Velero Backup phase transition (validation, each phase, deletion). */
  veleroPhaseDelayMs: Jitter;
  /** Before Flux lets a deleted HelmRelease go (it uninstalls the release first). */
  fluxFinalizerDelayMs: Jitter;
  /** Before each step of a Restore or Upgrade Operation. */
  otherOperationDelayMs: Jitter;
  /** Before the kubelet stand-in reports a bundled controller's Deployment available. */
  rolloutDelayMs: Jitter;
  /** How many backups Velero runs at once (velero server --concurrent-backups; its default is 1). */
  veleroConcurrentBackups: number;
  /** How often Velero's garbage collection looks at a finished Backup (--garbage-collection-frequency, 1 h). */
  veleroGcFrequencyMs: number;
  /** How often Velero's backup sync compares the store with the cluster (--backup-sync-period, 1 min). */
  veleroSyncPeriodMs: number;
  /**
   * Per-key backoff after a failed reconcile: controller-runtime's default item rate limiter,
   * baseMs × 2^(failures-1), capped at maxMs (5 ms and 1000 s there).
   */
  backoff: { baseMs: number; maxMs: number };
}

export type LatencyProfile = 'realistic' | 'fast';

export const timingProfiles: Record<LatencyProfile, SimTiming> = {
  realistic: {
    reconcileLatencyMs: [100, 400],
    conditionDelayMs: [200, 1500],
    veleroPhaseDelayMs: [200, 800],
    fluxFinalizerDelayMs: [200, 1000],
    otherOperationDelayMs: [300, 1200],
    rolloutDelayMs: [200, 1000],
    veleroConcurrentBackups: 1,
    veleroGcFrequencyMs: 3_600_000,
    veleroSyncPeriodMs: 60_000,
    backoff: { baseMs: 5, maxMs: 1_000_000 },
  },
  fast: {
    reconcileLatencyMs: [0, 0],
    conditionDelayMs: [0, 0],
    veleroPhaseDelayMs: [10, 30],
    fluxFinalizerDelayMs: [0, 0],
    otherOperationDelayMs: [10, 30],
    rolloutDelayMs: [0, 0],
    veleroConcurrentBackups: 1,
    veleroGcFrequencyMs: 3_600_000,
    veleroSyncPeriodMs: 60_000,
    backoff: { baseMs: 5, maxMs: 1_000_000 },
  },
};

export function resolveTiming(profile: LatencyProfile = 'realistic', overrides: Partial<SimTiming> = {}): SimTiming {
  return { ...timingProfiles[profile], ...overrides };
}

export const draw = ([min, max]: Jitter) => (max <= min ? min : min + Math.random() * (max - min));
