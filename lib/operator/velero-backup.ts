import { plural } from '../plural';
import type { Claim, DeleteBackupRequest, LabelSelector, Operation, VeleroBackup } from './schemas';

// What a Velero Backup's own record says beyond its phase, read as Velero v1.18 writes it
// (pkg/apis/velero/v1, and the backup, deletion and garbage-collection controllers).

/** Velero's label on a DeleteBackupRequest: the uid of the Backup it was made for. */
const backupUidLabel = 'velero.io/backup-uid';
/** A PVC Velero is told to leave out of every backup. */
const excludeLabel = 'velero.io/exclude-from-backup';

/** What judging a Velero Backup needs beside it: deletion requests and bound claims, by namespace. */
export interface VeleroEvidence {
  /** By "<velero namespace>/<spec.backupName>". */
  deleteRequests: Map<string, DeleteBackupRequest[]>;
  /** Bound PersistentVolumeClaims, by namespace. */
  claims: Map<string, Claim[]>;
}

export function veleroEvidence(deleteRequests: DeleteBackupRequest[], claims: Claim[]): VeleroEvidence {
  const byBackup = new Map<string, DeleteBackupRequest[]>();
  for (const r of deleteRequests) {
    const key = `${r.metadata.namespace}/${r.spec.backupName}`;
    byBackup.set(key, [...(byBackup.get(key) ?? []), r]);
  }
  const byNamespace = new Map<string, Claim[]>();
  for (const c of claims) {
    if (c.status?.phase !== 'Bound' || !c.spec.volumeName) continue;
    const ns = c.metadata.namespace ?? '';
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), c]);
  }
  return { deleteRequests: byBackup, claims: byNamespace };
}

/**
 * The request that is deleting (or tried to delete) this very Backup: one not processed yet (Velero
 * deletes by name, whatever Backup holds it then), or one processed for this Backup's uid that
 * left it in place (the deletion failed or was refused).
 */
export function deletionOf(backup: VeleroBackup, evidence: VeleroEvidence | undefined) {
  const requests = evidence?.deleteRequests.get(`${backup.metadata.namespace}/${backup.metadata.name}`) ?? [];
  const pending = requests.find((r) => r.status?.phase !== 'Processed');
  if (pending) return pending;
  return requests.find((r) => {
    const uid = r.metadata.labels?.[backupUidLabel];
    return uid !== undefined && uid === backup.metadata.uid;
  });
}

/** A DeleteBackupRequest in words: its name, phase and what went wrong. */
export function describeDeletion(r: DeleteBackupRequest): string {
  const phase = r.status?.phase || 'New';
  const errors = r.status?.errors?.length ? `: ${r.status.errors.join('; ')}` : '';
  return `DeleteBackupRequest ${r.metadata.name} (${phase}${errors})`;
}

function matchesSelector(labels: Record<string, string>, s: LabelSelector): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key] ?? '';
    const inValues = (e.values ?? []).includes(value);
    if (e.operator === 'In' && !(has && inValues)) return false;
    if (e.operator === 'NotIn' && has && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/**
 * The bound claims a Backup covered: in its namespaces (a `*` means every one), selected by its
 * label selectors, not excluded by Velero's label, and there before it started.
 */
function claimsCovered(backup: VeleroBackup, evidence: VeleroEvidence): Claim[] {
  const spec = backup.spec;
  const included = spec.includedNamespaces?.length ? spec.includedNamespaces : ['*'];
  const excluded = new Set(spec.excludedNamespaces ?? []);
  const namespaces = included.includes('*') ? [...evidence.claims.keys()] : included;
  const selectors = [...(spec.labelSelector ? [spec.labelSelector] : []), ...(spec.orLabelSelectors ?? [])];
  const started = Date.parse(backup.status?.startTimestamp ?? '');
  return namespaces
    .filter((ns) => !excluded.has(ns))
    .flatMap((ns) => evidence.claims.get(ns) ?? [])
    .filter((c) => {
      const labels = c.metadata.labels ?? {};
      if (labels[excludeLabel] === 'true') return false;
      if (selectors.length && !selectors.some((s) => matchesSelector(labels, s))) return false;
      const created = Date.parse(c.metadata.creationTimestamp ?? '');
      return Number.isNaN(started) || Number.isNaN(created) || created <= started;
    });
}

/**
 * A Completed Backup asked to snapshot volumes (by its spec, else by the Operation's parameters)
 * that captured none of the bound claims it covered: Velero skips a volume it cannot snapshot (no
 * VolumeSnapshotClass for its driver, not a CSI volume) and still says Completed. Captured is read
 * from Velero's own counts: native and CSI snapshots completed, or backup item operations
 * completed (the data mover's uploads). Undefined when it does not apply: not asked, file-system
 * backup asked instead (its PodVolumeBackups are not counted here), or no claim covered.
 */
export function volumesNotCaptured(
  op: Operation,
  backup: VeleroBackup,
  evidence: VeleroEvidence | undefined,
): { captured: number; covered: number } | undefined {
  if (!evidence) return undefined;
  const asked = backup.spec.snapshotVolumes ?? op.spec.parameters?.snapshotVolumes;
  if (asked !== true || backup.spec.defaultVolumesToFsBackup === true) return undefined;
  const covered = claimsCovered(backup, evidence).length;
  const s = backup.status ?? {};
  const snapshots = (s.volumeSnapshotsCompleted ?? 0) + (s.csiVolumeSnapshotsCompleted ?? 0);
  const captured = Math.max(snapshots, s.backupItemOperationsCompleted ?? 0);
  return covered > 0 && captured === 0 ? { captured, covered } : undefined;
}

/** A Velero phase with what Velero says about it: the queue position, the validation errors, the failure. */
export function describeVeleroPhase(backup: VeleroBackup): string {
  const s = backup.status ?? {};
  const phase = s.phase || 'New';
  if (phase === 'Queued' && s.queuePosition) return `Velero backup Queued (position ${s.queuePosition})`;
  if (phase === 'FailedValidation' && s.validationErrors?.length)
    return `Velero backup FailedValidation: ${s.validationErrors.join('; ')}`;
  if (phase === 'Failed' && s.failureReason) return `Velero backup Failed: ${s.failureReason}`;
  if (phase === 'PartiallyFailed' && s.errors) return `Velero backup PartiallyFailed (${plural(s.errors, 'error')})`;
  return `Velero backup ${phase}`;
}
