import { contractUpstream, type Resource } from './contract';

// The kinds of the world around the operator: Kubernetes' own and the upstream projects the
// bundle ships (Flux, Velero, the CSI snapshotter), as their CRDs (installed from their Go
// modules) serve them. The operator's own kinds are in contract.ts.

const r = (group: string, version: string, plural: string, kind: string, namespaced: boolean): Resource => ({
  group,
  version,
  plural,
  kind,
  namespaced,
});

export const core = {
  namespaces: r('', 'v1', 'namespaces', 'Namespace', false),
  configMaps: r('', 'v1', 'configmaps', 'ConfigMap', true),
  secrets: r('', 'v1', 'secrets', 'Secret', true),
  serviceAccounts: r('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  events: r('', 'v1', 'events', 'Event', true),
  persistentVolumes: r('', 'v1', 'persistentvolumes', 'PersistentVolume', false),
  persistentVolumeClaims: r('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true),
  deployments: r('apps', 'v1', 'deployments', 'Deployment', true),
  storageClasses: r('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
  customResourceDefinitions: r(
    'apiextensions.k8s.io',
    'v1',
    'customresourcedefinitions',
    'CustomResourceDefinition',
    false,
  ),
};

export const upstream = {
  helmReleases: r(
    contractUpstream.helmRelease.group,
    contractUpstream.helmRelease.version,
    'helmreleases',
    contractUpstream.helmRelease.kind,
    true,
  ),
  veleroBackups: r(
    contractUpstream.veleroBackup.group,
    contractUpstream.veleroBackup.version,
    'backups',
    contractUpstream.veleroBackup.kind,
    true,
  ),
  backupStorageLocations: r('velero.io', 'v1', 'backupstoragelocations', 'BackupStorageLocation', true),
  deleteBackupRequests: r('velero.io', 'v1', 'deletebackuprequests', 'DeleteBackupRequest', true),
  volumeSnapshots: r('snapshot.storage.k8s.io', 'v1', 'volumesnapshots', 'VolumeSnapshot', true),
  volumeSnapshotContents: r('snapshot.storage.k8s.io', 'v1', 'volumesnapshotcontents', 'VolumeSnapshotContent', false),
  volumeSnapshotClasses: r('snapshot.storage.k8s.io', 'v1', 'volumesnapshotclasses', 'VolumeSnapshotClass', false),
};

/** Flux's finalizer on the HelmReleases it reconciles. */
export const fluxFinalizer = 'finalizers.fluxcd.io';

/** What helm writes on every object it renders (helm 3.2+), and checks before adopting one. */
export const helmOwnership = {
  managedByLabel: 'app.kubernetes.io/managed-by',
  managedByValue: 'Helm',
  releaseNameAnnotation: 'meta.helm.sh/release-name',
  releaseNamespaceAnnotation: 'meta.helm.sh/release-namespace',
  resourcePolicyAnnotation: 'helm.sh/resource-policy',
};

/** Velero's Backup phases (velero.io/v1). */
export type VeleroPhase =
  | 'New'
  | 'Queued'
  | 'ReadyToStart'
  | 'FailedValidation'
  | 'InProgress'
  | 'WaitingForPluginOperations'
  | 'WaitingForPluginOperationsPartiallyFailed'
  | 'Finalizing'
  | 'FinalizingPartiallyFailed'
  | 'Completed'
  | 'PartiallyFailed'
  | 'Failed'
  | 'Deleting';

export const veleroFinalPhases: ReadonlySet<string> = new Set([
  'Completed',
  'PartiallyFailed',
  'Failed',
  'FailedValidation',
]);

/** metav1.Time: RFC 3339 in whole seconds, as the API server writes it. */
export const metaTime = (at: Date | number = new Date()) =>
  new Date(typeof at === 'number' ? at : at.getTime()).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A Go time.Duration string (`8760h`, `720h30m`, `1.5h`, `90s`, `500ms`) in ms; undefined if it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] as string] ?? 0);
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? total : undefined;
}
