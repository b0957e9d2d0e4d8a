import { mapLimit } from '../../concurrency';
import { durationExamples, parseGoDuration } from '../../duration';
import { PreflightError, UsageError } from '../../errors';
import { ApiError } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { type FinalBackupParameters, finalBackupOperation } from '../../operator/final-backup';
import { finalBackupName, resources } from '../../operator/names';
import { type Operation, operationSchema, parseObject } from '../../operator/schemas';
import { type Selection, selectInstances } from '../selection';

export interface BackupOptions {
  selection: Selection;
  parameters: FinalBackupParameters;
  veleroNamespace: string;
  retryFailed: boolean;
  requireAvailableLocation: boolean;
}

export type BackupAction = 'create' | 'adopt' | 'retry';

export interface BackupPlanItem {
  namespace: string;
  application: string;
  operation: string;
  action: BackupAction;
  note?: string;
  existing?: Operation;
  manifest: ReturnType<typeof finalBackupOperation>;
}

export interface BackupPlan {
  items: BackupPlanItem[];
  invalid: { name: string; error: string }[];
  warnings: string[];
}

/** TTLs are Go durations (Velero's), strictly positive; anything else is refused up front. */
export function validateTtl(ttl: string): void {
  const ms = parseGoDuration(ttl);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(
      `invalid --ttl "${ttl}": expected a positive Go duration such as ${durationExamples}`,
      'units are h, m, s (no days or years): one year is 8760h, 30 days is 720h',
    );
  }
}

/** The BackupStorageLocation must exist; one that is not Available is a warning, or refused. */
export async function checkStorageLocation(client: KubeClient, opts: BackupOptions, warnings: string[]) {
  const name = opts.parameters.storageLocation;
  let bsl: KubeObject | undefined;
  try {
    bsl = await client.find(resources.backupStorageLocations, name, opts.veleroNamespace);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) bsl = undefined;
    else throw err;
  }
  if (!bsl) {
    throw new UsageError(
      `BackupStorageLocation "${name}" not found in namespace ${opts.veleroNamespace}`,
      `list them with: kubectl -n ${opts.veleroNamespace} get backupstoragelocations; then pass --storage-location`,
    );
  }
  const phase = (bsl.status as { phase?: string } | undefined)?.phase ?? 'Unknown';
  if (phase !== 'Available') {
    const msg = `BackupStorageLocation ${opts.veleroNamespace}/${name} is ${phase}, not Available: backups to it may fail`;
    if (opts.requireAvailableLocation)
      throw new PreflightError(msg, 'fix the location, or drop --require-available-location');
    warnings.push(msg);
  }
}

/** Step 2, read-only: which final-backup Operations to create, adopt or retry. */
export async function planBackup(client: KubeClient, opts: BackupOptions): Promise<BackupPlan> {
  validateTtl(opts.parameters.ttl);
  const warnings: string[] = [];
  await checkStorageLocation(client, opts, warnings);
  const { instances, invalid } = await selectInstances(client, opts.selection);
  const items = await mapLimit(instances, 16, async (ai): Promise<BackupPlanItem> => {
    const namespace = ai.metadata.namespace ?? '';
    const application = ai.metadata.name;
    const operation = finalBackupName(application, opts.parameters.nameSuffix);
    const manifest = finalBackupOperation(namespace, application, opts.parameters);
    const raw = await client.find(resources.operations, operation, namespace);
    if (!raw) return { namespace, application, operation, action: 'create', manifest };
    const parsed = parseObject(operationSchema, raw);
    if (!parsed.ok) {
      invalid.push({ name: parsed.name, error: parsed.error });
      return {
        namespace,
        application,
        operation,
        action: 'adopt',
        note: 'existing Operation does not parse',
        manifest,
      };
    }
    const existing = parsed.value;
    if (existing.status?.phase === 'Failed' && existing.status.reason !== 'BackupNotSupported' && opts.retryFailed) {
      return {
        namespace,
        application,
        operation,
        action: 'retry',
        note: `previous attempt failed: ${existing.status.reason ?? ''}`,
        existing,
        manifest,
      };
    }
    const ttl = existing.spec.parameters?.ttl;
    const note = ttl && ttl !== opts.parameters.ttl ? `existing Operation has ttl ${ttl}` : undefined;
    return { namespace, application, operation, action: 'adopt', note, existing, manifest };
  });
  return { items, invalid, warnings };
}
