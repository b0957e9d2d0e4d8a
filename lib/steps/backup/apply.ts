import { mapLimit } from '../../concurrency';
import type { StepDeps } from '../../deps';
import { ApiError, isAlreadyExists, isNotFound } from '../../kube/api-error';
import { waitForObjects } from '../../kube/watch';
import { resources } from '../../operator/names';
import type { DryRunMode } from '../results';
import type { BackupPlan, BackupPlanItem } from './plan';

export interface BackupApplyResult {
  item: BackupPlanItem;
  error?: string;
  /** Not attempted: the run stopped first. */
  skipped?: boolean;
}

export interface BackupApplyOptions {
  dryRun: DryRunMode;
  concurrency: number;
  timeoutMs: number;
}

/** Phase 1 of a retry: the failed Operations go, and are waited for, since their names are reused. */
async function deleteFailed(deps: StepDeps, retries: BackupPlanItem[], opts: BackupApplyOptions) {
  await mapLimit(retries, opts.concurrency, (i) =>
    deps.client.delete(resources.operations, i.operation, i.namespace).catch((err) => {
      if (!isNotFound(err)) throw err;
      return undefined;
    }),
  );
  await waitForObjects(
    deps.client,
    resources.operations,
    retries.map((i) => `${i.namespace}/${i.operation}`),
    (o) => !o,
    { timeoutMs: opts.timeoutMs, signal: deps.signal },
  );
}

/** Phase 2: one create per Operation to make; one that appeared meanwhile is adopted, never duplicated. */
function createOperations(deps: StepDeps, items: BackupPlanItem[], opts: BackupApplyOptions) {
  const dryRun = opts.dryRun === 'server';
  return mapLimit(
    items,
    opts.concurrency,
    async (item): Promise<BackupApplyResult> => {
      if (item.action === 'adopt') return { item };
      try {
        await deps.client.create(resources.operations, item.manifest, item.namespace, dryRun);
        return { item };
      } catch (err) {
        if (isAlreadyExists(err))
          return { item: { ...item, action: 'adopt', note: 'created by another writer meanwhile' } };
        return { item, error: err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : String(err) };
      }
    },
    { stop: () => deps.signal.aborted, skipped: (item) => ({ item, skipped: true }) },
  );
}

/** Step 2's changes: the Operations the plan says to create (after deleting those to retry). */
export async function applyBackup(
  deps: StepDeps,
  plan: BackupPlan,
  opts: BackupApplyOptions,
): Promise<BackupApplyResult[]> {
  if (opts.dryRun === 'client') return plan.items.map((item) => ({ item }));
  const retries = plan.items.filter((i) => i.action === 'retry');
  if (retries.length && opts.dryRun === 'none') await deleteFailed(deps, retries, opts);
  return createOperations(deps, plan.items, opts);
}
