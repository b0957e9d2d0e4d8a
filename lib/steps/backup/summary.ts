import { mapLimit } from '../../concurrency';
import type { KubeClient } from '../../kube/client';
import { backupOutcome, type BackupOutcome } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { operationSchema, parseObject, type VeleroBackup, veleroBackupSchema } from '../../operator/schemas';
import type { BackupAction } from './plan';
import type { BackupApplyResult } from './apply';

export interface BackupRecord {
  application: string;
  namespace: string;
  operation: string;
  action: BackupAction;
  phase: string;
  reason?: string;
  message?: string;
  backup?: { namespace: string; name: string; phase?: string; expiration?: string };
  outcome: BackupOutcome | 'timed-out' | 'error';
  safe: boolean;
}

/** Reads each Operation and its Velero Backup and says, per application, whether its data is safe. */
export async function summarizeBackups(
  client: KubeClient,
  items: BackupApplyResult[],
  pending: Set<string>,
): Promise<BackupRecord[]> {
  return mapLimit(items, 16, async ({ item, error, skipped }): Promise<BackupRecord> => {
    const base = {
      application: item.application,
      namespace: item.namespace,
      operation: item.operation,
      action: item.action,
    };
    if (error) return { ...base, phase: 'NotCreated', message: error, outcome: 'error', safe: false };
    if (skipped)
      return {
        ...base,
        phase: 'NotCreated',
        message: 'not attempted: the run stopped first',
        outcome: 'missing',
        safe: false,
      };
    const raw = await client.find(resources.operations, item.operation, item.namespace);
    const op = raw ? parseObject(operationSchema, raw) : undefined;
    if (!op?.ok)
      return {
        ...base,
        phase: raw ? 'Invalid' : 'Missing',
        message: op && !op.ok ? op.error : undefined,
        outcome: 'missing',
        safe: false,
      };
    const ref = op.value.status?.backupRef;
    let backup: VeleroBackup | undefined;
    if (ref) {
      const b = await client.find(resources.veleroBackups, ref.name, ref.namespace);
      const parsed = b ? parseObject(veleroBackupSchema, b) : undefined;
      if (parsed?.ok) backup = parsed.value;
    }
    let outcome: BackupRecord['outcome'] = backupOutcome(op.value, backup);
    if (outcome === 'in-progress' && pending.has(`${item.namespace}/${item.operation}`)) outcome = 'timed-out';
    const record: BackupRecord = {
      ...base,
      phase: op.value.status?.phase ?? 'Pending',
      reason: op.value.status?.reason,
      message: op.value.status?.message,
      outcome,
      safe: outcome === 'safe',
    };
    if (ref) record.backup = { ...ref, phase: backup?.status?.phase, expiration: backup?.status?.expiration };
    if (outcome === 'failed' && op.value.status?.phase === 'Succeeded') {
      record.message = `Operation Succeeded but Velero Backup ${ref ? `${ref.namespace}/${ref.name}` : '(none referenced)'} is ${backup?.status?.phase ?? 'missing'}`;
    }
    return record;
  });
}
