import { mapLimit } from '../../concurrency';
import type { ActLock, StepDeps } from '../../deps';
import { LockLostError } from '../../kube/lease';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../../kube/api-error';
import { waitForObjects } from '../../kube/watch';
import { describeOperation, isBackupOf } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { actOnFresh, alsoJudged, type Gate, preconditionsOf, unlocked } from '../act';
import type { ApprovedPlan } from '../approved';
import type { KubeObject } from '../../kube/resources';
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
  /** The selection's namespace: waits watch there only (all namespaces when undefined). */
  namespace?: string;
  /** The plan a run executes: a retry deletes only an Operation it names, or one its run made. */
  approved?: ApprovedPlan;
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
  const dryRun = opts.dryRun === 'server';
  await mapLimit(retries, opts.concurrency, async (i) => {
    try {
      const gate = alsoJudged(
        retryGate(deps, i, judge),
        opts.approved && { judge: (fresh) => opts.approved?.finalBackup(fresh?.verdict.operation as KubeObject) },
      );
      await actOnFresh(lock, gate, async (fresh) => {
        const op = fresh?.verdict.operation;
        // A server dry run sends the same DELETE, preconditions and all, with dryRun: the API
        // server validates it (or refuses it) and deletes nothing.
        await deps.client.delete(resources.operations, i.operation, i.namespace, {
          preconditions: op ? preconditionsOf(op) : undefined,
          dryRun,
        });
      });
    } catch (err) {
      if (isNotFound(err)) return; // gone already (a lost answer to our own delete, or someone else's)
      if (err instanceof LockLostError || deps.signal.aborted) throw err;
      refused.set(i, isConflict(err) ? `${i.operation} changed since it was planned; not deleted` : errorText(err));
    }
  });
  if (dryRun) return refused;
  const gone = retries.filter((i) => !refused.has(i)).map((i) => `${i.namespace}/${i.operation}`);
  await waitForObjects(deps.client, resources.operations, gone, (o) => !o, {
    timeoutMs: opts.timeoutMs,
    signal: deps.signal,
    namespace: opts.namespace,
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

/**
 * A retry in a server dry run: the dry-run DELETE left the failed Operation in place, so its name
 * is still taken; the create is validated under a generated name instead (dry run: none is made).
 */
async function validateRetry(deps: StepDeps, item: BackupPlanItem): Promise<BackupApplyResult> {
  const { name, ...metadata } = item.manifest?.metadata ?? { name: item.operation };
  const manifest = { ...item.manifest, metadata: { ...metadata, generateName: `${name}-` } };
  try {
    await deps.client.create(resources.operations, manifest, item.namespace, true);
    return {
      item: {
        ...item,
        note: `retry validated: the DELETE of the Failed Operation (its uid and resourceVersion as preconditions) and the create (${item.note ?? ''})`,
      },
    };
  } catch (err) {
    return { item, error: errorText(err) };
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
  const refused = retries.length ? await deleteFailed(deps, retries, opts) : new Map<BackupPlanItem, string>();
  return mapLimit(
    plan.items,
    opts.concurrency,
    async (item): Promise<BackupApplyResult> => {
      const why = refused.get(item);
      if (why) return { item, error: why };
      if (!creates(item)) return { item };
      if (item.action === 'retry' && opts.dryRun === 'server') return validateRetry(deps, item);
      return createOne(deps, item, opts.dryRun === 'server');
    },
    { stop: () => deps.signal.aborted, skipped: (item) => ({ item, skipped: !creates(item) ? undefined : true }) },
  );
}
