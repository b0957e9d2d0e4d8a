import type { ResourceType } from '../kube/resources';

// Names and values from the operator's API (shared/spec/operator-api.md).
export const operatorNamespace = 'vworkspace-system';
export const helmReleaseName = 'vworkspace-app-operator';
export const bootstrapCredentialSecret = 'vworkspace-bootstrap-credential';
export const bootstrapCredentialLabel = 'ops.vworkspace.io/credential';
export const veleroNamespace = 'velero';
export const defaultStorageLocation = 'aws-primary';

export const pauseAnnotation = 'apps.vworkspace.io/reconcile';
export const pauseValue = 'disabled';
export const clusterFinalizer = 'ops.vworkspace.io/decommission';
export const finalBackupSuffix = 'final-backup';
export const finalBackupName = (app: string, suffix = finalBackupSuffix) => `${app}-${suffix}`;
/**
 * What the Operation CRD accepts as spec.parameters.ttl (its OpenAPI pattern): Go's duration
 * grammar without a sign, a bare "0", or a number without digits on both sides of its point.
 */
export const operationTtlPattern = /^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$/u;
/** Every object name is a DNS-1123 subdomain: at most 253 characters (metadata.name). */
export const maxObjectNameLength = 253;

// What this tool records on objects it changes, so resume undoes exactly that.
export const toolPrefix = 'kubectl-vw.vworkspace.io';
export const pausedByAnnotation = `${toolPrefix}/paused-at`;
/** The field manager kubectl vw writes as: managedFields then show what it set, and what it did not. */
export const toolFieldManager = 'kubectl-vw';
export const suspendedByAnnotation = `${toolPrefix}/suspended-at`;

export const resources = {
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
  helmReleases: {
    group: 'helm.toolkit.fluxcd.io',
    version: 'v2',
    plural: 'helmreleases',
    kind: 'HelmRelease',
    namespaced: true,
  },
  veleroBackups: { group: 'velero.io', version: 'v1', plural: 'backups', kind: 'Backup', namespaced: true },
  deleteBackupRequests: {
    group: 'velero.io',
    version: 'v1',
    plural: 'deletebackuprequests',
    kind: 'DeleteBackupRequest',
    namespaced: true,
  },
  backupStorageLocations: {
    group: 'velero.io',
    version: 'v1',
    plural: 'backupstoragelocations',
    kind: 'BackupStorageLocation',
    namespaced: true,
  },
  volumeSnapshots: {
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    plural: 'volumesnapshots',
    kind: 'VolumeSnapshot',
    namespaced: true,
  },
  volumeSnapshotContents: {
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    plural: 'volumesnapshotcontents',
    kind: 'VolumeSnapshotContent',
    namespaced: false,
  },
} satisfies Record<string, ResourceType>;

/** The CRDs the operator's chart installs; their absence means the operator is not installed. */
export const operatorCrds = [
  'applicationinstances.apps.vworkspace.io',
  'operations.ops.vworkspace.io',
  'clusters.ops.vworkspace.io',
] as const;

/**
 * Where kubectl vw keeps what must outlive the operator's namespace: the lock Lease and the step 3
 * record. kube-system always exists and cannot be deleted (the API server's NamespaceLifecycle
 * admission refuses), so neither a Terminating nor a deleted vworkspace-system can take them away.
 */
export const toolNamespace = 'kube-system';
export const lockLeaseName = 'kubectl-vw';
/**
 * Where kubectl vw records step 3 (the Cluster's ID, and whether Odoo revoked the credential or the
 * finalizer was removed by force), so status and the what-persists report still know it once the
 * Cluster CR is gone and Events have expired.
 */
export const decommissionRecord = 'kubectl-vw-decommission';
/**
 * The run journal: who ran which mutating command, where, on which cluster, and how it ended. In
 * kube-system, so that purge (which deletes vworkspace-system) never takes it.
 */
export const journalName = 'kubectl-vw-journal';
/** Objects created by a run of an approved plan carry its digest here (final-backup Operations). */
export const planAnnotation = `${toolPrefix}/plan`;
