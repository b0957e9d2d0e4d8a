import { mapLimit } from '../concurrency';
import type { DryRunMode } from '../cli/flags';
import { durationExamples, parseGoDuration } from '../duration';
import { PreflightError, UsageError } from '../errors';
import { ApiError, isAlreadyExists, isNotFound } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/resources';
import { objectKey, waitForObjects } from '../kube/watch';
import {
  backupOutcome,
  type BackupOutcome,
  type FinalBackupParameters,
  finalBackupOperation,
  isFinished,
} from '../operator/final-backup';
import { finalBackupName, resources } from '../operator/names';
import {
  type Operation,
  operationSchema,
  parseObject,
  type VeleroBackup,
  veleroBackupSchema,
} from '../operator/schemas';
import { type Selection, selectInstances } from './selection';

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

export interface BackupApplyResult {
  item: BackupPlanItem;
  error?: string;
}

/** Creates what the plan says; an Operation that appeared meanwhile is adopted, never duplicated. */
export async function applyBackup(
  client: KubeClient,
  plan: BackupPlan,
  opts: { dryRun: DryRunMode; concurrency: number; timeoutMs: number },
): Promise<BackupApplyResult[]> {
  if (opts.dryRun === 'client') return plan.items.map((item) => ({ item }));
  const dryRun = opts.dryRun === 'server';
  const retries = plan.items.filter((i) => i.action === 'retry');
  if (retries.length && !dryRun) {
    await mapLimit(retries, opts.concurrency, (i) =>
      client.delete(resources.operations, i.operation, i.namespace).catch((err) => {
        if (!isNotFound(err)) throw err;
        return undefined;
      }),
    );
    // A retry creates the Operation anew under the same name, so the old one must be gone first.
    await waitForObjects(
      client,
      resources.operations,
      retries.map((i) => `${i.namespace}/${i.operation}`),
      (o) => !o,
      {
        timeoutMs: opts.timeoutMs,
      },
    );
  }
  return mapLimit(plan.items, opts.concurrency, async (item): Promise<BackupApplyResult> => {
    if (item.action === 'adopt') return { item };
    try {
      await client.create(resources.operations, item.manifest, item.namespace, dryRun);
      return { item };
    } catch (err) {
      if (isAlreadyExists(err))
        return { item: { ...item, action: 'adopt', note: 'created by another writer meanwhile' } };
      return { item, error: err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : String(err) };
    }
  });
}

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
  return mapLimit(items, 16, async ({ item, error }): Promise<BackupRecord> => {
    const base = {
      application: item.application,
      namespace: item.namespace,
      operation: item.operation,
      action: item.action,
    };
    if (error) return { ...base, phase: 'NotCreated', message: error, outcome: 'error', safe: false };
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

/** Waits through a watch until every Operation is Succeeded or Failed, reporting each phase change. */
export async function waitForBackups(
  client: KubeClient,
  items: BackupApplyResult[],
  opts: { namespace?: string; timeoutMs: number; onPhase?: (key: string, phase: string, reason?: string) => void },
) {
  const keys = items.filter((i) => !i.error).map((i) => `${i.item.namespace}/${i.item.operation}`);
  const lastPhase = new Map<string, string>();
  return waitForObjects(
    client,
    resources.operations,
    keys,
    (obj) => {
      if (!obj) return false;
      const op = operationSchema.safeParse(obj);
      if (!op.success) return false;
      const phase = op.data.status?.phase ?? 'Pending';
      const key = objectKey(obj);
      if (lastPhase.get(key) !== phase) {
        lastPhase.set(key, phase);
        opts.onPhase?.(key, phase, op.data.status?.reason);
      }
      return isFinished(op.data);
    },
    { namespace: opts.namespace, timeoutMs: opts.timeoutMs },
  );
}
