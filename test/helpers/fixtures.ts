import type { KubeObject } from '../../lib/kube/resources';
import { finalBackupOperation } from '../../lib/operator/final-backup';
import type { Cluster } from '../../lib/operator/schemas';
import type { BackupApplyResult } from '../../lib/steps/backup/apply';
import type { BackupPlan } from '../../lib/steps/backup/plan';
import type { BackupRecord } from '../../lib/steps/backup/summary';
import type { PersistsInput } from '../../lib/steps/persists';
import type { PurgePlan } from '../../lib/steps/purge/plan';
import type { ObjectResult } from '../../lib/steps/results';
import type { Observed } from '../../lib/steps/status/observe';

// Fixed data for the printers' golden files: what a small cluster of three applications looks like.

export const pauseResults: ObjectResult[] = [
  { kind: 'ApplicationInstance', namespace: 'shop', name: 'web', action: 'pause', result: 'changed' },
  { kind: 'ApplicationInstance', namespace: 'shop', name: 'db', action: 'pause', result: 'changed' },
  {
    kind: 'ApplicationInstance',
    namespace: 'crm',
    name: 'crm',
    action: 'none',
    result: 'unchanged',
    message: 'already paused (not by kubectl-vw: resume leaves it)',
  },
  { kind: 'HelmRelease', namespace: 'shop', name: 'web', action: 'suspend', result: 'changed' },
  {
    kind: 'HelmRelease',
    namespace: 'shop',
    name: 'db',
    action: 'suspend',
    result: 'failed',
    message: '403 Forbidden: helmreleases "db" is forbidden',
  },
];

export const resumeResults: ObjectResult[] = [
  { kind: 'ApplicationInstance', namespace: 'shop', name: 'web', action: 'resume', result: 'changed' },
  {
    kind: 'ApplicationInstance',
    namespace: 'crm',
    name: 'crm',
    action: 'none',
    result: 'unchanged',
    message: 'paused, but not by kubectl-vw (use --force-all to resume it)',
  },
  { kind: 'HelmRelease', namespace: 'shop', name: 'web', action: 'unsuspend', result: 'changed' },
];

export const backupRecords: BackupRecord[] = [
  {
    application: 'web',
    namespace: 'shop',
    operation: 'web-final-backup',
    action: 'create',
    phase: 'Succeeded',
    reason: 'BackupCompleted',
    backup: {
      namespace: 'velero',
      name: 'shop-web-final-backup',
      phase: 'Completed',
      expiration: '2027-11-27T12:00:00Z',
    },
    outcome: 'counts',
    safe: true,
    result: 'changed',
  },
  {
    application: 'cache',
    namespace: 'shop',
    operation: 'cache-final-backup',
    action: 'adopt',
    phase: 'Failed',
    reason: 'BackupNotSupported',
    message: 'applicationinstance shop/cache has no backup capability (spec.backup.capable: false)',
    outcome: 'no-backup-capability',
    safe: false,
    result: 'unchanged',
  },
  {
    application: 'db',
    namespace: 'shop',
    operation: 'db-final-backup',
    action: 'create',
    phase: 'Failed',
    reason: 'VeleroBackupFailed',
    backup: { namespace: 'velero', name: 'shop-db-final-backup', phase: 'PartiallyFailed' },
    outcome: 'failed',
    safe: false,
    fix: 'kubectl vw backup -n shop db --ttl 8760h --retry-failed',
    result: 'changed',
  },
];

const parameters = {
  storageLocation: 'aws-primary',
  snapshotVolumes: true,
  csiSnapshotClassName: 'csi-rbd',
  ttl: '8760h',
  nameSuffix: 'final-backup',
};
const manifest = (namespace: string, app: string) => finalBackupOperation(namespace, app, parameters);

const dryItems: BackupPlan['items'] = [
  {
    namespace: 'shop',
    application: 'web',
    operation: 'web-final-backup',
    action: 'create',
    state: 'missing',
    manifest: manifest('shop', 'web'),
  },
  {
    namespace: 'shop',
    application: 'db',
    operation: 'db-final-backup',
    action: 'adopt',
    state: 'running',
    note: 'Operation Running',
  },
  {
    namespace: 'shop',
    application: 'crm',
    operation: 'crm-final-backup-2',
    action: 'retake',
    state: 'stale',
    note: 're-taken: the last one does not count (stale: started before the application was paused)',
    manifest: finalBackupOperation('shop', 'crm', parameters, 'crm-final-backup-2'),
  },
];

export const backupDryRunPlan: { plan: BackupPlan; applied: BackupApplyResult[] } = {
  plan: { items: dryItems, invalid: [], warnings: [], unpaused: [] },
  applied: dryItems.map((item) => ({ item })),
};

export const cluster: Cluster = {
  apiVersion: 'ops.vworkspace.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'cluster-prod-1', namespace: 'vworkspace-system' },
  spec: { odoo: { url: 'https://odoo.example.test' } },
  status: { clusterID: '6f1e0c2a-1b2c-4d5e-8f90-123456789abc' },
};

export const purgePlan: PurgePlan = {
  checks: [{ name: 'Cluster CR deleted (step 3)', ok: true, detail: 'no Cluster CR left' }],
  phases: [
    {
      id: 'step5-helm-uninstall',
      title: 'Step 5: helm uninstall vworkspace-app-operator -n vworkspace-system',
      counts: { Deployment: 1, Secret: 1, ServiceAccount: 1 },
      done: false,
      note: 'release v1 (vworkspace-app-operator-0.1.0), deployed',
    },
  ],
  kept: ['Secret/vworkspace-bootstrap-credential'],
  helmDeletesCrds: [],
  otherCrds: [],
  controllers: ['vworkspace-app-operator-controller-manager', 'helm-controller'],
  orphanedHelmReleases: 3,
  heldBackHelmReleases: [],
  remainingCrs: { ApplicationInstance: 3, Operation: 3, Cluster: 0 },
  crdsPresent: [
    'applicationinstances.apps.vworkspace.io',
    'operations.ops.vworkspace.io',
    'clusters.ops.vworkspace.io',
  ],
  namespacePresent: true,
};

export const purgeResults: ObjectResult[] = [
  {
    kind: 'ServiceAccount',
    namespace: 'vworkspace-system',
    name: 'vworkspace-operator',
    action: 'delete',
    result: 'changed',
    message: 'by helm uninstall',
  },
  {
    kind: 'Deployment',
    namespace: 'vworkspace-system',
    name: 'vworkspace-operator',
    action: 'delete',
    result: 'changed',
    message: 'by helm uninstall',
  },
];

const pv = (name: string, policy: string, claim: string, size = '5Gi'): KubeObject => ({
  metadata: { name },
  spec: {
    persistentVolumeReclaimPolicy: policy,
    capacity: { storage: size },
    claimRef: { namespace: claim.split('/')[0], name: claim.split('/')[1] },
    storageClassName: 'csi-rbd',
  },
});

export const persistsInput: PersistsInput = {
  velero: {
    namespaces: ['velero'],
    backups: ['web', 'db'].map((app) => ({
      metadata: { name: `shop-${app}-final-backup`, namespace: 'velero', creationTimestamp: '2026-11-27T11:00:00Z' },
      spec: { storageLocation: 'aws-primary' },
      status: { phase: 'Completed', expiration: '2027-11-27T11:00:00Z' },
    })),
    locations: new Map([['velero/aws-primary', { metadata: { name: 'aws-primary', namespace: 'velero' } }]]),
    deleteRequests: [],
    claims: [],
  },
  operations: [],
  release: false,
  namespace: true,
  contents: [{ metadata: { name: 'snapcontent-1' }, spec: { deletionPolicy: 'Retain', driver: 'rbd.csi.ceph.com' } }],
  pvs: [pv('pv-shop-web-data', 'Retain', 'shop/web-data'), pv('pv-shop-db-data', 'Delete', 'shop/db-data')],
  secret: { metadata: { name: 'vworkspace-bootstrap-credential', namespace: 'vworkspace-system' } },
  clusters: [],
  instances: [{ metadata: { name: 'web', namespace: 'shop' } }],
  helmReleases: [{ metadata: { name: 'web', namespace: 'shop' } }],
  claims: [
    { metadata: { name: 'web-data', namespace: 'shop' }, spec: { resources: { requests: { storage: '5Gi' } } } },
  ],
  kept: ['Secret/vworkspace-bootstrap-credential', 'CustomResourceDefinition/applicationinstances.apps.vworkspace.io'],
  record: {
    cluster: 'cluster-prod-1',
    clusterID: '6f1e0c2a-1b2c-4d5e-8f90-123456789abc',
    odooUrl: 'https://odoo.example.test',
    startedAt: '2026-11-27T11:30:00Z',
    outcome: 'revoked',
    evidence:
      "the operator removed its own finalizer (kubectl vw's observer finalizer stayed) with no OdooUnreachable standing",
    finishedAt: '2026-11-27T11:31:00Z',
  },
};

const ai = (namespace: string, name: string, paused: boolean): KubeObject => ({
  metadata: {
    name,
    namespace,
    annotations: paused
      ? { 'apps.vworkspace.io/reconcile': 'disabled', 'kubectl-vw.vworkspace.io/paused-at': '2026-11-27T10:00:00Z' }
      : {},
  },
  spec: {},
});

const op = (namespace: string, app: string, phase: string, reason?: string): KubeObject => ({
  metadata: { name: `${app}-final-backup`, namespace },
  spec: {
    targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: app },
    type: 'Backup',
    engine: 'velero',
  },
  status: {
    phase,
    reason,
    startTime: '2026-11-27T10:30:00Z',
    backupRef: { namespace: 'velero', name: `${namespace}-${app}-final-backup` },
  },
});

/** Step 1 done, step 2 half way: one backup Succeeded, one running, one missing. */
export const observedMidway: Observed = {
  crds: ['applicationinstances.apps.vworkspace.io', 'operations.ops.vworkspace.io', 'clusters.ops.vworkspace.io'],
  crdsInstalled: true,
  namespace: true,
  instances: [ai('shop', 'web', true), ai('shop', 'db', true), ai('crm', 'crm', true)],
  operations: [op('shop', 'web', 'Succeeded', 'BackupCompleted'), op('shop', 'db', 'Running')],
  clusters: [cluster as KubeObject],
  cluster,
  helmReleases: [],
  velero: {
    namespaces: ['velero'],
    backups: [
      {
        metadata: { name: 'shop-web-final-backup', namespace: 'velero' },
        status: { phase: 'Completed', expiration: '2027-11-27T10:30:00Z' },
      },
    ],
    locations: new Map(),
    deleteRequests: [],
    claims: [],
  },
  release: {
    name: 'vworkspace-app-operator',
    namespace: 'vworkspace-system',
    version: 1,
    status: 'deployed',
    driver: 'secret',
  },
};
