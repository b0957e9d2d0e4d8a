import { apiVersionOf } from '../kube/resources';
import { finalBackupName, resources } from './names';
import type { Operation, VeleroBackup } from './schemas';

/** Parameters of a final backup, field for field as the procedure's step 2 manifest has them. */
export interface FinalBackupParameters {
  storageLocation: string;
  snapshotVolumes: boolean;
  csiSnapshotClassName?: string;
  ttl: string;
  nameSuffix: string;
}

/** The Operation the procedure's step 2 applies for one ApplicationInstance. */
export function finalBackupOperation(namespace: string, app: string, p: FinalBackupParameters) {
  return {
    apiVersion: apiVersionOf(resources.operations),
    kind: 'Operation',
    metadata: {
      name: finalBackupName(app, p.nameSuffix),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'kubectl-vw', 'ops.vworkspace.io/purpose': 'final-backup' },
    },
    spec: {
      targetRef: { apiVersion: apiVersionOf(resources.applicationInstances), kind: 'ApplicationInstance', name: app },
      type: 'Backup',
      engine: 'velero',
      parameters: {
        storageLocation: p.storageLocation,
        snapshotVolumes: p.snapshotVolumes,
        ...(p.csiSnapshotClassName ? { csiSnapshotClassName: p.csiSnapshotClassName } : {}),
        ttl: p.ttl,
      },
    },
  };
}

/** Where one application's final-backup Operation stands, by the Operation alone. */
export type FinalBackupStanding = 'succeeded' | 'no-backup-capability' | 'failed' | 'running' | 'missing';

export function finalBackupStanding(op: Operation | undefined): FinalBackupStanding {
  if (!op) return 'missing';
  const phase = op.status?.phase;
  if (phase === 'Succeeded') return 'succeeded';
  if (phase === 'Failed') return op.status?.reason === 'BackupNotSupported' ? 'no-backup-capability' : 'failed';
  return 'running';
}

/**
 * The procedure's step 2 is over for an application when its Operation Succeeded, or Failed
 * because the application has no backup capability. Decommission, purge and status all ask this.
 */
export const finalBackupDone = (standing: FinalBackupStanding) =>
  standing === 'succeeded' || standing === 'no-backup-capability';

export type BackupOutcome = 'safe' | 'no-backup-capability' | 'failed' | 'in-progress' | 'missing';

/**
 * Stricter than step 2's own test: a backup counts as safe only when the Operation Succeeded and
 * its Velero Backup is Completed.
 */
export function backupOutcome(op: Operation | undefined, backup: VeleroBackup | undefined): BackupOutcome {
  const standing = finalBackupStanding(op);
  if (standing === 'running') return 'in-progress';
  if (standing !== 'succeeded') return standing;
  return backup?.status?.phase === 'Completed' ? 'safe' : 'failed';
}

export const isFinished = (op: Operation | undefined) =>
  op?.status?.phase === 'Succeeded' || op?.status?.phase === 'Failed';
