import { type DryRunMode, type ObjectResult, summarize } from '../../steps/results';
import type { BackupApplyResult } from '../../steps/backup/apply';
import type { BackupPlan } from '../../steps/backup/plan';
import type { BackupRecord } from '../../steps/backup/summary';
import type { OutputFormat } from '../flags';
import type { IO } from '../io';
import { type Column, document, nameOf, printDocument, printResults } from '../output';

const outcomeText: Record<BackupRecord['outcome'], string> = {
  safe: 'safe',
  'no-backup-capability': 'no backup capability',
  failed: 'FAILED',
  'in-progress': 'in progress',
  missing: 'missing',
  'timed-out': 'TIMED OUT',
  error: 'FAILED',
};

export const backupColumns: Column<BackupRecord>[] = [
  { header: 'NAMESPACE', value: (r) => r.namespace },
  { header: 'APPLICATION', value: (r) => r.application },
  { header: 'PHASE', value: (r) => r.phase },
  { header: 'REASON', value: (r) => r.reason ?? '' },
  { header: 'VELERO BACKUP', value: (r) => r.backup?.name ?? '' },
  { header: 'BACKUP PHASE', value: (r) => r.backup?.phase ?? '' },
  { header: 'EXPIRES', value: (r) => r.backup?.expiration ?? '' },
  { header: 'DATA', value: (r) => outcomeText[r.outcome] },
  { header: 'OPERATION', value: (r) => r.operation, wide: true },
  { header: 'ACTION', value: (r) => r.action, wide: true },
  { header: 'MESSAGE', value: (r) => r.message ?? '', wide: true },
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
    document('BackupResult', { ...report, dryRun: 'none', items: records }),
    records,
    backupColumns,
    (r) => nameOf('Operation', r.operation),
  );
}

const dryAction: Record<string, string> = { adopt: 'adopt', retry: 're-create', create: 'create' };

/** A dry run: the same rows as every other command, one per Operation, with the manifests to create. */
export function printBackupDryRun(
  io: IO,
  format: OutputFormat,
  report: BackupReport,
  dryRun: DryRunMode,
  plan: BackupPlan,
  applied: BackupApplyResult[],
) {
  const results: ObjectResult[] = applied.map(({ item, error }) => ({
    kind: 'Operation',
    namespace: item.namespace,
    name: item.operation,
    action: dryAction[item.action] ?? item.action,
    result: error ? 'failed' : item.action === 'adopt' ? 'unchanged' : dryRun === 'client' ? 'planned' : 'validated',
    message: error ?? item.note,
  }));
  const manifests = plan.items.filter((i) => i.action !== 'adopt').map((i) => i.manifest);
  const counts = { context: report.context, dryRun, summary: summarize(results) };
  printResults(
    io,
    format,
    'BackupResult',
    { ...counts, storageLocation: report.storageLocation, ttl: report.ttl, manifests },
    results,
  );
}
