import type { KubeClient } from '../../kube/client';
import type { FinalBackupState } from '../../operator/final-backup';
import { finalBackupCounts } from '../../operator/final-backup';
import { type AppFinalBackup, fixFor, type JudgeOptions, surveyFinalBackups } from '../final-backups';
import type { BackupApplyResult } from './apply';
import type { BackupAction, BackupPlanItem } from './plan';
import { type HintFlags, procedureTtl, vwCommand, withNextSuffix } from '../hints';

/** What became of one application in step 2. */
export interface BackupRecord {
  application: string;
  namespace: string;
  /** The Operation this run created or adopted (or the one that stands). */
  operation: string;
  action: BackupAction;
  /** That Operation's phase. */
  phase: string;
  reason?: string;
  message?: string;
  backup?: { namespace: string; name: string; phase?: string; expiration?: string };
  /** Where the application's final backup stands now; timed-out, conflict and error say why there is none. */
  outcome: FinalBackupState | 'timed-out' | 'conflict' | 'name-too-long' | 'error';
  /** Its final backup counts: Operation Succeeded, Velero Backup Completed and fresh, taken after the pause. */
  safe: boolean;
  /** The command that makes it count, when it does not. */
  fix?: string;
}

/** The command that backs an application up beside an Operation that holds its name. */
export const conflictFix = (item: BackupPlanItem, hint: HintFlags = {}) =>
  vwCommand('backup', [
    '-n',
    item.namespace,
    item.application,
    ...withNextSuffix(hint.backup ?? ['--ttl', procedureTtl]),
    ...(hint.common ?? []),
  ]);

/** One application's record, from the survey after the run and what the run did. */
function recordOf(
  a: BackupApplyResult,
  app: AppFinalBackup | undefined,
  pending: Set<string>,
  hint?: HintFlags,
): BackupRecord {
  const { item } = a;
  const base = {
    application: item.application,
    namespace: item.namespace,
    operation: item.operation,
    action: item.action,
  };
  if (item.action === 'name-too-long')
    return { ...base, phase: 'NotCreated', message: item.note, outcome: 'name-too-long', safe: false };
  if (a.error || a.skipped || item.action === 'conflict') {
    const outcome = item.action === 'conflict' ? 'conflict' : a.skipped ? 'missing' : 'error';
    const message =
      item.action === 'conflict'
        ? `operation.ops.vworkspace.io/${item.operation} ${item.note}`
        : a.skipped
          ? 'not attempted: the run stopped first'
          : a.error;
    return {
      ...base,
      phase: 'NotCreated',
      message,
      outcome,
      safe: false,
      fix: item.action === 'conflict' ? `choose another name: ${conflictFix(item, hint)}` : undefined,
    };
  }
  const verdict = app?.verdict;
  const op = app?.candidates.find((c) => c.metadata.name === item.operation) ?? verdict?.operation;
  const state = verdict?.state ?? 'missing';
  const timedOut = state === 'running' && pending.has(`${item.namespace}/${item.operation}`);
  const ref = op?.status?.backupRef;
  const backup = verdict?.operation === op ? verdict?.backup : undefined;
  return {
    ...base,
    phase: op?.status?.phase ?? 'Pending',
    reason: op?.status?.reason,
    message: finalBackupCounts(state) ? op?.status?.message : verdict?.detail,
    ...(ref ? { backup: { ...ref, phase: backup?.status?.phase, expiration: backup?.status?.expiration } } : {}),
    outcome: timedOut ? 'timed-out' : state,
    safe: state === 'counts',
    fix: finalBackupCounts(state) || !app ? undefined : fixFor([app], hint),
  };
}

/** Judges, after the run, each selected application's final backup: safe or not, and why. */
export async function summarizeBackups(
  client: KubeClient,
  items: BackupApplyResult[],
  pending: Set<string>,
  opts: JudgeOptions & { namespace?: string; veleroNamespace: string },
): Promise<BackupRecord[]> {
  const apps = await surveyFinalBackups(client, opts);
  const byKey = new Map(apps.map((a) => [`${a.namespace}/${a.application}`, a]));
  return items.map((a) => recordOf(a, byKey.get(`${a.item.namespace}/${a.item.application}`), pending, opts.hint));
}
