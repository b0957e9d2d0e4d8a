import type { KubeObject } from '../kube/resources';
import { apiVersionOf } from '../kube/resources';
import { finalBackupName, finalBackupSuffix, pausedByAnnotation, resources, toolPrefix } from './names';
import { type ApplicationInstance, findCondition, type Operation, type VeleroBackup } from './schemas';
import {
  deletionOf,
  describeDeletion,
  describeVeleroPhase,
  type VeleroEvidence,
  volumesNotCaptured,
} from './velero-backup';

/** Parameters of a final backup, field for field as the procedure's step 2 manifest has them. */
export interface FinalBackupParameters {
  storageLocation: string;
  snapshotVolumes: boolean;
  csiSnapshotClassName?: string;
  ttl: string;
  nameSuffix: string;
}

/** kubectl-vw labels every final backup it creates, and names the application in an annotation. */
export const finalBackupLabel = `${toolPrefix}/final-backup`;
export const finalBackupOfAnnotation = `${toolPrefix}/final-backup-of`;

/** The Operation the procedure's step 2 applies for one ApplicationInstance, under `name`. */
export function finalBackupOperation(
  namespace: string,
  app: string,
  p: FinalBackupParameters,
  name = finalBackupName(app, p.nameSuffix),
) {
  return {
    apiVersion: apiVersionOf(resources.operations),
    kind: 'Operation',
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'kubectl-vw',
        'ops.vworkspace.io/purpose': 'final-backup',
        [finalBackupLabel]: 'true',
      },
      annotations: { [finalBackupOfAnnotation]: app },
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

/** A Backup, by the velero engine, of exactly this ApplicationInstance. */
export function isBackupOf(op: Operation, app: string): boolean {
  const t = op.spec.targetRef;
  return (
    op.spec.type === 'Backup' &&
    op.spec.engine === 'velero' &&
    t.kind === 'ApplicationInstance' &&
    t.apiVersion.startsWith(`${resources.applicationInstances.group}/`) &&
    t.name === app
  );
}

/** What an Operation of that name is, when it is not a backup of the application: for the conflict message. */
export const describeOperation = (op: Operation) =>
  `a ${op.spec.type}${op.spec.engine && op.spec.engine !== 'velero' ? ` by ${op.spec.engine}` : ''} of ${op.spec.targetRef.name}`;

/**
 * An application's final backup, found by what it is: a Backup Operation of that application that
 * kubectl-vw labelled final, or one under the procedure's name (`<app>-final-backup`).
 */
export function isFinalBackupOf(op: Operation, app: string): boolean {
  if (!isBackupOf(op, app)) return false;
  const marked =
    op.metadata.labels?.[finalBackupLabel] === 'true' ||
    op.metadata.labels?.['ops.vworkspace.io/purpose'] === 'final-backup';
  return marked || op.metadata.name === finalBackupName(app, finalBackupSuffix);
}

/**
 * Where an application's final backup stands. Only `counts` (and, for an application that cannot
 * be backed up, `no-backup-capability`) lets a destructive step go on.
 */
export type FinalBackupState =
  | 'counts'
  | 'no-backup-capability'
  | 'running'
  | 'expiring'
  | 'stale'
  | 'unknown'
  | 'unpaused'
  | 'expired'
  | 'deleting'
  | 'volumes-not-captured'
  | 'velero-failed'
  | 'velero-missing'
  | 'location-missing'
  | 'failed'
  | 'missing';

/** Of the candidates that count, which says most: one that counts, before one without backup capability. */
const preference: FinalBackupState[] = ['counts', 'no-backup-capability'];

export const finalBackupCounts = (s: FinalBackupState) => s === 'counts' || s === 'no-backup-capability';

export interface FinalBackupVerdict {
  state: FinalBackupState;
  /** Why, in words: shown in tables, status and the gate's refusal. */
  detail: string;
  operation?: Operation;
  backup?: VeleroBackup;
}

export interface JudgeContext {
  /** When the application was paused (ms), if it is; NaN when it is paused but the time cannot be read. */
  pausedAt?: number;
  /**
   * Whether the application can be backed up now (spec.backup.capable is not false): a failure
   * BackupNotSupported exempts it only while it still cannot. Unset: as the spec's default, true.
   */
  capable?: boolean;
  now: number;
  /** A backup that expires sooner than this does not count. */
  marginMs: number;
  /** Deletion requests and bound claims, when they were read (a Velero Backup is then judged by them too). */
  velero?: VeleroEvidence;
}

const veleroFinal = new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']);
const seconds = (ms: number) => Math.floor(ms / 1000);
const timeOf = (s?: string) => (s ? Date.parse(s) : Number.NaN);

/**
 * When the application's pause took effect: the operator's Suspended=True, else kubectl-vw's
 * marker. Undefined when it is not paused; NaN when the operator says it is suspended but its
 * time cannot be read: unknown, which never lets a backup count.
 */
export function pausedAt(ai: ApplicationInstance | KubeObject): number | undefined {
  const annotations = ai.metadata.annotations ?? {};
  if (annotations['apps.vworkspace.io/reconcile'] !== 'disabled') return undefined;
  const conditions = (ai.status as ApplicationInstance['status'])?.conditions;
  const c = findCondition(conditions, 'Suspended');
  if (c?.status === 'True' && c.reason === 'ReconcilePaused') return timeOf(c.lastTransitionTime);
  const marker = timeOf(annotations[pausedByAnnotation]);
  return Number.isNaN(marker) ? undefined : marker;
}

/** Whether the application can be backed up, as its spec says now (the CRD's default is true). */
export const backupCapable = (ai: ApplicationInstance | KubeObject) =>
  (ai.spec as { backup?: { capable?: boolean } } | undefined)?.backup?.capable !== false;

/**
 * A Succeeded Operation's Velero Backup: does it hold, and for long enough? Deleting, or asked to
 * be deleted (a DeleteBackupRequest exists from `velero backup delete` or garbage collection
 * until Velero acts), it does not count; nor does a Completed one that captured none of the
 * volumes it was to snapshot.
 */
function judgeVelero(op: Operation, backup: VeleroBackup | undefined, ctx: JudgeContext): FinalBackupVerdict {
  const ref = op.status?.backupRef;
  const at = { operation: op, backup };
  if (!ref || !backup) return { ...at, state: 'velero-missing', detail: 'Velero backup missing' };
  const phase = backup.status?.phase || 'New';
  const expires = timeOf(backup.status?.expiration);
  const expired = !Number.isNaN(expires) && expires <= ctx.now;
  const deletion = deletionOf(backup, ctx.velero);
  if (phase === 'Deleting' || deletion) {
    const by = deletion ? `: ${describeDeletion(deletion)}` : '';
    return expired
      ? { ...at, state: 'expired', detail: `expired: Velero is deleting it${by}` }
      : { ...at, state: 'deleting', detail: `being deleted${by}` };
  }
  if (!veleroFinal.has(phase)) return { ...at, state: 'running', detail: describeVeleroPhase(backup) };
  if (phase !== 'Completed') return { ...at, state: 'velero-failed', detail: describeVeleroPhase(backup) };
  if (Number.isNaN(expires))
    return {
      ...at,
      state: 'unknown',
      detail: `expiry unknown: the Velero backup's expiration ${JSON.stringify(backup.status?.expiration ?? null)} is not a time`,
    };
  if (expired) return { ...at, state: 'expired', detail: `expired ${backup.status?.expiration}` };
  if (expires - ctx.now < ctx.marginMs)
    return { ...at, state: 'expiring', detail: `expires ${backup.status?.expiration}, within the margin` };
  const volumes = volumesNotCaptured(op, backup, ctx.velero);
  if (volumes)
    return {
      ...at,
      state: 'volumes-not-captured',
      detail: `volumes not captured (${volumes.captured} of ${volumes.covered}): Velero backup Completed without a snapshot of the bound claims it covered`,
    };
  return { ...at, state: 'counts', detail: 'Velero backup Completed' };
}

/** When a final backup counts: Succeeded, its Velero Backup Completed and not expiring, taken after the pause. */
export function judgeFinalBackup(
  op: Operation | undefined,
  backup: VeleroBackup | undefined,
  ctx: JudgeContext,
): FinalBackupVerdict {
  if (!op) return { state: 'missing', detail: 'no final backup' };
  const phase = op.status?.phase;
  if (phase === 'Failed') return judgeFailed(op, ctx, backup);
  if (phase !== 'Succeeded') return { state: 'running', detail: `Operation ${phase ?? 'Pending'}`, operation: op };
  const verdict = judgeVelero(op, backup, ctx);
  if (verdict.state !== 'counts') return verdict;
  return judgeOrder(op, verdict, ctx);
}

/**
 * A failed Operation: BackupNotSupported exempts the application only while its spec still says
 * it cannot be backed up; one that can be now needs a final backup like any other.
 */
function judgeFailed(op: Operation, ctx: JudgeContext, backup?: VeleroBackup): FinalBackupVerdict {
  const reason = op.status?.reason;
  if (reason === 'BackupNotSupported' && ctx.capable === false)
    return { state: 'no-backup-capability', detail: 'no backup capability', operation: op };
  const now =
    reason === 'BackupNotSupported'
      ? ', but the application can be backed up now (spec.backup.capable is not false)'
      : '';
  // Its Velero Backup, when there is one, says how far it got (PartiallyFailed, Failed).
  return { state: 'failed', detail: `Operation Failed${reason ? ` (${reason})` : ''}${now}`, operation: op, backup };
}

/** A backup counts only if it started after the pause: both times must be readable to say so. */
function judgeOrder(op: Operation, verdict: FinalBackupVerdict, ctx: JudgeContext): FinalBackupVerdict {
  if (ctx.pausedAt === undefined)
    return {
      ...verdict,
      state: 'unpaused',
      detail: 'the application is not paused: a final backup must follow the pause',
    };
  if (Number.isNaN(ctx.pausedAt))
    return {
      ...verdict,
      state: 'unknown',
      detail: "pause time unknown: the operator's Suspended condition has no readable lastTransitionTime",
    };
  const startedText = op.status?.startTime ?? op.metadata.creationTimestamp;
  const started = timeOf(startedText);
  if (Number.isNaN(started))
    return {
      ...verdict,
      state: 'unknown',
      detail: `start time unknown: the Operation's ${JSON.stringify(startedText ?? null)} is not a time`,
    };
  if (seconds(started) < seconds(ctx.pausedAt))
    return { ...verdict, state: 'stale', detail: 'stale: started before the application was paused' };
  return verdict;
}

/** When an attempt was made: its Operation's creation (a retry is a new object), else its start. */
const attemptedAt = (v: FinalBackupVerdict) => {
  const t = timeOf(v.operation?.metadata.creationTimestamp ?? v.operation?.status?.startTime);
  return Number.isNaN(t) ? 0 : t;
};

/**
 * Of an application's candidates, the one that says most about it: one that counts, if any;
 * else the newest attempt, with its own reason, and the attempt before it only as context (an
 * older backup taken before the pause must not hide that the newer one failed, or lost its Velero
 * Backup).
 */
export function bestVerdict(verdicts: FinalBackupVerdict[]): FinalBackupVerdict {
  const counting = verdicts
    .filter((v) => finalBackupCounts(v.state))
    .sort((a, b) => preference.indexOf(a.state) - preference.indexOf(b.state));
  if (counting[0]) return counting[0];
  const byAge = [...verdicts].sort(
    (a, b) =>
      attemptedAt(b) - attemptedAt(a) ||
      (b.operation?.metadata.name ?? '').localeCompare(a.operation?.metadata.name ?? '', 'en', { numeric: true }),
  );
  const [newest, before] = byAge;
  if (!newest) return { state: 'missing', detail: 'no final backup' };
  if (!before) return newest;
  return { ...newest, detail: `${newest.detail} (before it: ${before.operation?.metadata.name} ${before.detail})` };
}

export const isFinished = (op: Operation | undefined) =>
  op?.status?.phase === 'Succeeded' || op?.status?.phase === 'Failed';

export const isVeleroFinal = (b: VeleroBackup | undefined) =>
  veleroFinal.has(b?.status?.phase ?? '') || b?.status?.phase === 'Deleting';
