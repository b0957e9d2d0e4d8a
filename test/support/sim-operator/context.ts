import type { KubeClient } from '../../../lib/kube/client';
import type { KubeObject, ResourceType } from '../../../lib/kube/resources';
import type { ReconcileResult } from './queue';

/** How a backup is made to fail: the Operation's reason, and the phase its Velero Backup ends in. */
export interface BackupFailure {
  reason: string;
  veleroPhase?: 'Failed' | 'PartiallyFailed';
  message?: string;
}

/** Faults the tests switch at run time (SimOperator.setFaults requeues everything after a change). */
export interface SimFaults {
  /** Minimum time between an Operation's phase transitions. */
  phaseDelayMs: number;
  /** Backups of these applications ("name" or "namespace/name") fail. */
  failBackups: Map<string, string | BackupFailure>;
  /** Backups of these applications ("name" or "namespace/name") stay Running. */
  hangBackups: Set<string>;
  /** Delay before an ApplicationInstance's Suspended condition is written. */
  conditionDelayMs: number;
}

export const defaultFaults = (): SimFaults => ({
  phaseDelayMs: 0,
  failBackups: new Map(),
  hangBackups: new Set(),
  conditionDelayMs: 0,
});

/** What every reconciler gets: the client, the run's abort signal, settings and faults. */
export interface SimContext {
  client: KubeClient;
  signal: AbortSignal;
  faults: SimFaults;
  log: (line: string) => void;
  odooUrl?: string;
  veleroNamespace: string;
  odooTimeoutMs: number;
  healthIntervalMs: number;
  decommissionBackoff: { initialMs: number; maxMs: number };
  /** Throws once the sim is stopped or crashed, so no write happens after that. */
  guard(): void;
}

/** A watch that feeds a controller: which keys its events enqueue. */
export interface WatchSource {
  resource: ResourceType;
  /** One watch per namespace; [undefined] watches all namespaces. */
  namespaces: (string | undefined)[];
  fieldSelector?: string;
  keyOf?: (obj: KubeObject) => string | undefined;
}

/** A reconciler for one kind: what it watches and what it does for one "namespace/name" key. */
export interface Controller {
  name: string;
  watches: WatchSource[];
  reconcile(ctx: SimContext, namespace: string, name: string): Promise<ReconcileResult | undefined>;
}

export const splitKey = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
};
