import { type DryRunMode, type ObjectResult, summarize } from '../../steps/results';
import type { BackupApplyResult } from '../../steps/backup/apply';
import type { BackupPlan } from '../../steps/backup/plan';
import type { BackupRecord } from '../../steps/backup/summary';
import type { OutputFormat } from '../flags';
import type { IO } from '../io';
import { type Column, document, nameOf, printDocument, printResults } from '../output';

const outcomeText: Record<BackupRecord['outcome'], string> = {
  counts: 'counts',
  'no-backup-capability': 'no backup capability',
  running: 'in progress',
  expiring: 'EXPIRING',
  stale: 'STALE',
  unknown: 'UNKNOWN',
  unpaused: 'NOT PAUSED',
  expired: 'EXPIRED',
  deleting: 'BEING DELETED',
  'volumes-not-captured': 'VOLUMES NOT CAPTURED',
  'velero-failed': 'VELERO FAILED',
  'velero-missing': 'VELERO MISSING',
  'location-missing': 'LOCATION GONE',
  failed: 'FAILED',
  missing: 'MISSING',
  'timed-out': 'TIMED OUT',
  conflict: 'NAME CONFLICT',
  'name-too-long': 'NAME TOO LONG',
  error: 'FAILED',
};

export const backupColumns: Column<BackupRecord>[] = [
  { header: 'NAMESPACE', value: (r) => r.namespace },
  { header: 'APPLICATION', value: (r) => r.application },
  { header: 'OPERATION', value: (r) => r.operation, wide: true },
  { header: 'PHASE', value: (r) => r.phase },
  { header: 'REASON', value: (r) => r.reason ?? '', wide: true },
  { header: 'VELERO BACKUP', value: (r) => r.backup?.name ?? '', wide: true },
  { header: 'VELERO PHASE', value: (r) => r.backup?.phase ?? '' },
  { header: 'EXPIRES', value: (r) => r.backup?.expiration ?? '' },
  { header: 'FINAL BACKUP', value: (r) => outcomeText[r.outcome] },
  { header: 'ACTION', value: (r) => r.action, wide: true },
  { header: 'MESSAGE', value: (r) => r.message ?? '', wide: true, text: true },
];

export interface BackupReport {
  context: string;
  storageLocation: string;
  ttl: string;
}

/** The result of a real run: one record per application, saying whether its data is safe. */
export function printBackupRecords(io: IO, format: OutputFormat, report: BackupReport, records: BackupRecord[]) {
  printDocument(
    io,
    format,
    document('BackupResult', { ...report, dryRun: 'none', summary: summarize(records), items: records }),
    records,
    backupColumns,
    (r) => nameOf('Operation', r.operation),
    (r) => `${r.namespace}/${r.application}`,
  );
}

/** Actions planned as failed: nothing is created for them, in any mode. */
export const refused = (action: BackupPlan['items'][number]['action']) =>
  action === 'conflict' || action === 'name-too-long';

/** What a dry run would do, per plan action; actions that change nothing are "unchanged". */
const changes = new Set(['create', 'retry', 'retake']);

/** A dry run: the same rows as every other command, one per Operation, with the manifests to create. */
export function printBackupDryRun(
  io: IO,
  format: OutputFormat,
  report: BackupReport,
  dryRun: DryRunMode,
  plan: BackupPlan,
  applied: BackupApplyResult[],
) {
  // Each row names its application too, so that `-f -` of another command can read it back.
  const results: (ObjectResult & { application: string })[] = applied.map(({ item, error }) => ({
    kind: 'Operation',
    namespace: item.namespace,
    name: item.operation,
    application: item.application,
    action: item.action,
    result:
      error || refused(item.action)
        ? 'failed'
        : !changes.has(item.action)
          ? 'unchanged'
          : dryRun === 'client'
            ? 'planned'
            : 'validated',
    message: error ?? item.note,
  }));
  const manifests = plan.items.filter((i) => changes.has(i.action)).map((i) => i.manifest);
  const counts = { context: report.context, dryRun, summary: summarize(results) };
  printResults(
    io,
    format,
    'BackupResult',
    { ...counts, storageLocation: report.storageLocation, ttl: report.ttl, manifests },
    results,
  );
}
