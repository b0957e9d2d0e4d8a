import type { KubeClient } from '../../kube/client';
import type { FinalBackupState } from '../../operator/final-backup';
import { finalBackupCounts } from '../../operator/final-backup';
import { type AppFinalBackup, fixFor, type JudgeOptions, surveyFinalBackups } from '../final-backups';
import type { ResultState } from '../results';
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
  /** What this run did to the Operation, as every mutating command's rows say it. */
  result: ResultState;
}

/** What an action did: the Operations this run created are changed; what it only looked at, unchanged. */
export function resultOf(a: BackupApplyResult): ResultState {
  if (a.skipped) return 'skipped';
  if (a.error || a.item.action === 'conflict' || a.item.action === 'name-too-long') return 'failed';
  return ['create', 'retry', 'retake'].includes(a.item.action) ? 'changed' : 'unchanged';
}

/** The words of the summary line, one per action, by what each one did. */
const actionWords: Record<string, string> = {
  create: 'created',
  keep: 'kept',
  adopt: 'adopted',
  retry: 'retried',
  retake: 'retaken',
  conflict: 'in conflict',
  'name-too-long': 'refused (name too long)',
  failed: 'Failed (not retried)',
  unpaused: 'not paused',
};

/** "3 created, 2 kept, 1 adopted": each action counted by what it did (a failed create is not created). */
export function describeActions(applied: BackupApplyResult[]): string {
  const counts = new Map<string, number>();
  for (const a of applied) {
    const what = a.skipped
      ? 'not attempted'
      : a.error && a.item.action !== 'conflict'
        ? `failed to ${a.item.action}`
        : (actionWords[a.item.action] ?? a.item.action);
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  // In the order of the actions (created first), then what failed, then what was not attempted.
  const order = Object.values(actionWords);
  const rank = (w: string) => (order.includes(w) ? order.indexOf(w) : w === 'not attempted' ? 99 : 50);
  const words = [...counts].sort(([a], [b]) => rank(a) - rank(b));
  return words.length ? words.map(([w, n]) => `${n} ${w}`).join(', ') : 'no applications';
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
    return {
      ...base,
      result: 'failed',
      phase: 'NotCreated',
      message: item.note,
      outcome: 'name-too-long',
      safe: false,
    };
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
      result: resultOf(a),
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
    result: resultOf(a),
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
