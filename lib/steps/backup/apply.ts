import { mapLimit } from '../../concurrency';
import type { ActLock, StepDeps } from '../../deps';
import { LockLostError } from '../../kube/lease';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../../kube/api-error';
import { waitForObjects } from '../../kube/watch';
import { describeOperation, isBackupOf } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { actOnFresh, type Gate, preconditionsOf, unlocked } from '../act';
import { type AppFinalBackup, type JudgeOptions, judgeApps } from '../final-backups';
import { operationSchema } from '../../operator/schemas';
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
  /** The lock a retry's delete happens under (a real run); none for dry runs. */
  lock?: ActLock;
  /** How a backup is judged at the moment of a retry's delete. */
  judge?: () => JudgeOptions;
}

const creates = (i: BackupPlanItem) => i.action === 'create' || i.action === 'retry' || i.action === 'retake';
const errorText = (err: unknown) =>
  err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : (err as Error).message;

/**
 * A retry's gate, read at the moment of the delete: the Operation planned (by uid) is still there,
 * still this application's final backup, and still one that failed; its application is still
 * paused. A resume, a new attempt or a hand edit since the plan leaves it alone.
 */
function retryGate(deps: StepDeps, item: BackupPlanItem, judge: () => JudgeOptions): Gate<AppFinalBackup | undefined> {
  const planned = item.existing?.metadata.uid;
  return {
    what: `delete the failed Operation ${item.namespace}/${item.operation} to retry it`,
    read: async () => {
      const [ai, op] = await Promise.all([
        deps.client.find(resources.applicationInstances, item.application, item.namespace),
        deps.client.find(resources.operations, item.operation, item.namespace),
      ]);
      // A failed Operation is judged without its Velero Backup: none is read.
      return ai && op ? judgeApps([ai], [op], [], judge())[0] : undefined;
    },
    judge: (fresh) => {
      const standing = fresh?.candidates.find((c) => c.metadata.uid === planned);
      if (!fresh || !standing) return { reason: `${item.operation} or its application changed since it was planned` };
      if (fresh.verdict.operation?.metadata.uid !== planned || fresh.verdict.state !== 'failed')
        return { reason: `${item.operation} is no longer a failed final backup (${fresh.verdict.detail})` };
      return undefined;
    },
  };
}

/**
 * Phase 1 of a retry: the failed Operation goes first, since its name is reused. Only exactly the
 * planned object, judged again at the moment of the delete (retryGate), deleted with the uid and
 * resourceVersion of that read: an Operation replaced or changed since is left alone (and that
 * application fails).
 */
async function deleteFailed(deps: StepDeps, retries: BackupPlanItem[], opts: BackupApplyOptions) {
  const refused = new Map<BackupPlanItem, string>();
  const lock = opts.lock ?? unlocked(deps.signal);
  const judge = opts.judge ?? (() => ({ now: deps.clock.now(), marginMs: 0 }));
  await mapLimit(retries, opts.concurrency, async (i) => {
    try {
      await actOnFresh(lock, retryGate(deps, i, judge), async (fresh) => {
        const op = fresh?.verdict.operation;
        await deps.client.delete(resources.operations, i.operation, i.namespace, {
          preconditions: op ? preconditionsOf(op) : undefined,
        });
      });
    } catch (err) {
      if (isNotFound(err)) return; // gone already (a lost answer to our own delete, or someone else's)
      if (err instanceof LockLostError || deps.signal.aborted) throw err;
      refused.set(i, isConflict(err) ? `${i.operation} changed since it was planned; not deleted` : errorText(err));
    }
  });
  const gone = retries.filter((i) => !refused.has(i)).map((i) => `${i.namespace}/${i.operation}`);
  await waitForObjects(deps.client, resources.operations, gone, (o) => !o, {
    timeoutMs: opts.timeoutMs,
    signal: deps.signal,
  });
  return refused;
}

/**
 * One create. If the name is taken meanwhile, the Operation there is adopted only if it is a backup
 * of this application (our own create whose answer was lost, or a concurrent run's); anything
 * else is a conflict, left alone.
 */
async function createOne(deps: StepDeps, item: BackupPlanItem, dryRun: boolean): Promise<BackupApplyResult> {
  try {
    await deps.client.create(resources.operations, item.manifest, item.namespace, dryRun);
    return { item };
  } catch (err) {
    if (!isAlreadyExists(err)) return { item, error: errorText(err) };
    const raw = await deps.client.find(resources.operations, item.operation, item.namespace);
    const op = raw ? operationSchema.safeParse(raw) : undefined;
    if (op?.success && isBackupOf(op.data, item.application))
      return {
        item: {
          ...item,
          action: 'adopt',
          existing: op.data,
          note: 'created meanwhile (by an earlier attempt or another run)',
        },
      };
    const what = op?.success ? describeOperation(op.data) : 'an Operation that does not parse';
    return {
      item: { ...item, action: 'conflict', note: `is ${what}, not a backup of ${item.application}` },
      error: 'conflict',
    };
  }
}

/** Step 2's changes: the Operations the plan says to create (after deleting those to retry). */
export async function applyBackup(
  deps: StepDeps,
  plan: BackupPlan,
  opts: BackupApplyOptions,
): Promise<BackupApplyResult[]> {
  if (opts.dryRun === 'client') return plan.items.map((item) => ({ item }));
  const retries = plan.items.filter((i) => i.action === 'retry');
  const refused = retries.length && opts.dryRun === 'none' ? await deleteFailed(deps, retries, opts) : new Map();
  return mapLimit(
    plan.items,
    opts.concurrency,
    async (item): Promise<BackupApplyResult> => {
      const why = refused.get(item);
      if (why) return { item, error: why };
      if (!creates(item)) return { item };
      return createOne(deps, item, opts.dryRun === 'server');
    },
    { stop: () => deps.signal.aborted, skipped: (item) => ({ item, skipped: !creates(item) ? undefined : true }) },
  );
}
