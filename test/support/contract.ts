// The operator's contract as the test world knows it: every name below is written from
// shared/spec/operator-api.md (and, where that file defers to it, uninstall-procedure.md), never
// taken from the product's code. test/unit/contract.test.ts fails when the product disagrees.
// Names the contract does not give (the operator Deployment's, the Odoo health endpoint, condition
// reasons other than those listed) are not here: they belong to the stand-ins that invent them.

/** A kind as the API server serves it. */
export interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const apiVersionOf = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);

// Installation facts.
export const operatorNamespace = 'vworkspace-system';
export const helmReleaseName = 'vworkspace-app-operator';
/** The chart value that decides whether `helm uninstall` keeps the CRDs (default true). */
export const keepCrdsValue = 'keepCrds';
export const keepCrdsDefault = true;
export const bootstrapCredentialSecret = 'vworkspace-bootstrap-credential';
export const bootstrapCredentialLabel = 'ops.vworkspace.io/credential';
export const bootstrapCredentialLabelValue = 'bootstrap';
export const veleroNamespace = 'velero';
/** The BackupStorageLocation the procedure's final-backup manifest names. */
export const defaultStorageLocation = 'aws-primary';

// Custom resources.
export const kinds = {
  applicationInstances: {
    group: 'apps.vworkspace.io',
    version: 'v1alpha1',
    plural: 'applicationinstances',
    kind: 'ApplicationInstance',
    namespaced: true,
  },
  operations: {
    group: 'ops.vworkspace.io',
    version: 'v1alpha1',
    plural: 'operations',
    kind: 'Operation',
    namespaced: true,
  },
  clusters: { group: 'ops.vworkspace.io', version: 'v1alpha1', plural: 'clusters', kind: 'Cluster', namespaced: true },
} as const satisfies Record<string, Resource>;

export const shortNames = { applicationInstances: 'ai', operations: 'op' } as const;

/** The operator's CRDs, by name. */
export const operatorCrds = [
  'applicationinstances.apps.vworkspace.io',
  'operations.ops.vworkspace.io',
  'clusters.ops.vworkspace.io',
] as const;

/** The group/version the contract gives for the upstream kinds it names (plurals are upstream's). */
export const contractUpstream = {
  helmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', kind: 'HelmRelease' },
  veleroBackup: { group: 'velero.io', version: 'v1', kind: 'Backup' },
} as const;

// ApplicationInstance.
export const pauseAnnotation = 'apps.vworkspace.io/reconcile';
export const pauseValue = 'disabled';
export const suspendedCondition = 'Suspended';
export const reconcilePaused = 'ReconcilePaused';
export const reconcileResumed = 'ReconcileResumed';

// Operation.
export const operationTypes = ['Backup', 'Restore', 'Upgrade'] as const;
export type OperationType = (typeof operationTypes)[number];
export const operationEngine = 'velero';
export const operationPhases = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export type OperationPhase = (typeof operationPhases)[number];
export const backupNotSupported = 'BackupNotSupported';
/** The Velero Backup's own phase when the data is safe. */
export const veleroCompleted = 'Completed';
export const finalBackupSuffix = 'final-backup';
export const finalBackupName = (app: string) => `${app}-${finalBackupSuffix}`;

// Cluster.
export const clusterFinalizer = 'ops.vworkspace.io/decommission';
export const clusterConditions = {
  registered: 'Registered',
  odooReachable: 'OdooReachable',
  decommissioning: 'Decommissioning',
} as const;
export const odooUnreachable = 'OdooUnreachable';
export const odooDecommissionPath = '/api/agent/cluster/decommission';

// The shapes the contract describes (only what it describes).

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ApplicationInstance {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    catalogRef?: { name?: string; version?: string };
    values?: unknown;
    backup?: { capable?: boolean };
  };
  status?: { helmReleaseRef?: { name?: string }; conditions?: Condition[] };
}

export interface Operation {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    targetRef: { apiVersion?: string; kind: string; name: string };
    type: OperationType;
    engine?: string;
    parameters?: { storageLocation?: string; snapshotVolumes?: boolean; csiSnapshotClassName?: string; ttl?: string };
  };
  status?: {
    phase?: OperationPhase;
    reason?: string;
    message?: string;
    startTime?: string;
    completionTime?: string;
    backupRef?: { namespace: string; name: string };
  };
}

export interface Cluster {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { odoo?: { url?: string } };
  status?: { clusterID?: string; conditions?: Condition[] };
}
