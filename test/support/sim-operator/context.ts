import type { Resource } from '../contract';
import type { Informer, Kube, KubeObject } from '../kube';
import type { ReconcileResult } from './queue';
import type { SimTiming } from './timing';

/** How a backup is made to fail: the Operation's reason, and the phase its Velero Backup ends in. */
export interface BackupFailure {
  reason: string;
  veleroPhase?: 'Failed' | 'PartiallyFailed';
  message?: string;
}

/** What Velero does with every backup not named in failBackups or hangBackups. */
export type BackupOutcome = 'succeed' | 'fail' | 'hang' | 'partial';

/** How the operator's registration of a new Cluster goes. */
export type Registration = 'normal' | 'finalizerOnly' | 'withheld';

/** Faults the tests switch at run time (SimOperator.setFaults requeues everything after a change). */
export interface SimFaults {
  /** Minimum time between an Operation's phase transitions (on top of the timing). Default 0. */
  phaseDelayMs: number;
  /** Backups of these applications ("name" or "namespace/name") fail, as Velero reports it. Default empty. */
  failBackups: Map<string, string | BackupFailure>;
  /** Backups of these applications ("name" or "namespace/name") stay InProgress in Velero. Default empty. */
  hangBackups: Set<string>;
  /** Extra delay before an ApplicationInstance's Suspended condition is written. Default 0. */
  conditionDelayMs: number;
  /** Every other backup: succeed (default), fail, hang, or partial (PartiallyFailed). */
  backupOutcome: BackupOutcome;
  /** The operator's bug: a PartiallyFailed Velero Backup marks the Operation Succeeded. Default false. */
  partialAsSucceeded: boolean;
  /**
   * normal (default): finalizer, clusterID and Registered; finalizerOnly: the finalizer is added
   * but registration with Odoo never completes (no clusterID); withheld: nothing at all.
   */
  registration: Registration;
  /** Delay before the operator registers a new Cluster. Default 0. */
  registrationDelayMs: number;
  /**
   * The phase Velero's BackupStorageLocation validation reports, per location name. A location
   * not listed keeps whatever phase it has (the seeding writes one). Default empty.
   */
  storageLocationPhases: Map<string, 'Available' | 'Unavailable'>;
  /**
   * Applications ("name" or "namespace/name") whose volumes the storage driver never snapshots
   * (csi-driver.ts): a real Velero waits for them until the Backup's csiSnapshotTimeout. Default empty.
   */
  stalledSnapshots: Set<string>;
  /** The csiSnapshotTimeout the operator writes on new Velero Backups instead of its own. Default unset. */
  csiSnapshotTimeout?: string;
}

export const defaultFaults = (): SimFaults => ({
  phaseDelayMs: 0,
  failBackups: new Map(),
  hangBackups: new Set(),
  conditionDelayMs: 0,
  backupOutcome: 'succeed',
  partialAsSucceeded: false,
  registration: 'normal',
  registrationDelayMs: 0,
  storageLocationPhases: new Map(),
  stalledSnapshots: new Set(),
});

/** Is one of the world's bundled controllers installed (its Deployment present and scaled up)? */
export type Presence = () => boolean;

/** What every reconciler gets: a client of its own, the run's abort signal, settings and faults. */
export interface SimContext {
  kube: Kube;
  signal: AbortSignal;
  faults: SimFaults;
  timing: SimTiming;
  log: (line: string) => void;
  odooUrl?: string;
  veleroNamespace: string;
  clusterNamespace: string;
  /** The csiSnapshotTimeout the operator writes on the Velero Backups it makes. */
  csiSnapshotTimeout: string;
  odooTimeoutMs: number;
  healthIntervalMs: number;
  userAgent: string;
  /** Whether a namespace is the sim's to act in. */
  inScope(namespace: string | undefined): boolean;
  /** Throws once the sim is stopped or crashed, so no write happens after that. */
  guard(): void;
}

/** A watch that feeds a controller: which keys its events enqueue. */
export interface WatchSource {
  resource: Resource;
  /** One watch per namespace; [undefined] watches all namespaces. */
  namespaces: (string | undefined)[];
  fieldSelector?: string;
  labelSelector?: string;
  keyOf?: (obj: KubeObject) => string | undefined;
  /** Whether a change is worth a reconcile (controller-runtime's predicates). Default: every change. */
  predicate?: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject, old: KubeObject | undefined) => boolean;
}

/** A reconciler for one kind: what it watches and what it does for one "namespace/name" key. */
export interface Controller {
  name: string;
  /** The User-Agent (and so the managedFields manager) of its requests. */
  userAgent?: string;
  watches: WatchSource[];
  reconcile(ctx: SimContext, namespace: string, name: string): Promise<ReconcileResult | undefined>;
  /** Called once the watches have listed (the informers, for controllers that read their cache). */
  started?(informers: Informer[]): void;
}

export const splitKey = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
};

/** A fault keyed by application: "namespace/name" first, then "name". */
export function faultFor<T>(
  faults: Map<string, T> | Set<string>,
  namespace: string,
  app: string,
): T | true | undefined {
  for (const key of [`${namespace}/${app}`, app]) {
    if (faults instanceof Set) {
      if (faults.has(key)) return true;
    } else if (faults.has(key)) return faults.get(key);
  }
  return undefined;
}

/** Thrown inside reconcilers once the sim stops, so nothing is written afterwards. */
export class SimStopped extends Error {
  constructor() {
    super('simulated operator stopped');
  }
}

/** Only changes a controller acts on: spec (generation), deletion, finalizers, labels, annotations. */
export function metadataOrSpecChanged(
  type: 'ADDED' | 'MODIFIED' | 'DELETED',
  obj: KubeObject,
  old: KubeObject | undefined,
): boolean {
  if (type !== 'MODIFIED' || !old) return true;
  const a = old.metadata;
  const b = obj.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? []) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {})
  );
}
