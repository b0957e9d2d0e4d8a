import type { StepDeps } from '../../deps';
import { objectKey, type WaitOutcome, waitForObjects, waitForObjectsIn } from '../../kube/watch';
import { isFinished, isVeleroFinal } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { operationSchema, veleroBackupSchema } from '../../operator/schemas';
import type { BackupApplyResult } from './apply';

const waitsFor = (a: BackupApplyResult) =>
  !a.error && !a.skipped && ['create', 'retry', 'retake', 'adopt'].includes(a.item.action);

export interface BackupWaitOptions {
  namespace?: string;
  /** A hard bound for both phases together. */
  timeoutMs: number;
  onPhase?: (key: string, phase: string, reason?: string) => void;
}

/** Phase 1: through a watch, until every Operation is Succeeded or Failed. */
async function waitForOperations(deps: StepDeps, keys: string[], opts: BackupWaitOptions, refs: Map<string, string>) {
  const lastPhase = new Map<string, string>();
  return waitForObjects(
    deps.client,
    resources.operations,
    keys,
    (obj) => {
      const op = obj ? operationSchema.safeParse(obj) : undefined;
      if (!obj || !op?.success) return false;
      const phase = op.data.status?.phase ?? 'Pending';
      const key = objectKey(obj);
      const ref = op.data.status?.backupRef;
      if (phase === 'Succeeded' && ref) refs.set(key, `${ref.namespace}/${ref.name}`);
      if (lastPhase.get(key) !== phase) {
        lastPhase.set(key, phase);
        opts.onPhase?.(key, phase, op.data.status?.reason);
      }
      return isFinished(op.data);
    },
    { namespace: opts.namespace, timeoutMs: opts.timeoutMs, signal: deps.signal },
  );
}

/**
 * Phase 2: an Operation's Succeeded is not the data's safety: until its Velero Backup reaches a
 * final phase too (Completed, or PartiallyFailed, Failed...), it is still in progress.
 */
function waitForVelero(deps: StepDeps, backups: string[], timeoutMs: number) {
  // In the namespaces the Operations' backupRefs name (Velero's), never cluster-wide.
  return waitForObjectsIn(
    deps.client,
    resources.veleroBackups,
    backups,
    (obj) => {
      const b = obj ? veleroBackupSchema.safeParse(obj) : undefined;
      return Boolean(b?.success && isVeleroFinal(b.data));
    },
    { timeoutMs, signal: deps.signal },
  );
}

/** Waits for every Operation this run made or adopted, and then for their Velero Backups. */
export async function waitForBackups(
  deps: StepDeps,
  items: BackupApplyResult[],
  opts: BackupWaitOptions,
): Promise<WaitOutcome> {
  const started = deps.clock.monotonic();
  const keys = items.filter(waitsFor).map((i) => `${i.item.namespace}/${i.item.operation}`);
  const refs = new Map<string, string>();
  const ops = await waitForOperations(deps, keys, opts, refs);
  const left = opts.timeoutMs - (deps.clock.monotonic() - started);
  if (ops.timedOut || deps.signal.aborted || !refs.size) return ops;
  if (left <= 0) return { ...ops, pending: [...refs.keys()], timedOut: true };
  const velero = await waitForVelero(deps, [...refs.values()], left);
  const pendingOps = [...refs].filter(([, b]) => velero.pending.includes(b)).map(([op]) => op);
  return {
    satisfied: ops.satisfied.filter((k) => !pendingOps.includes(k)),
    pending: pendingOps,
    timedOut: velero.timedOut,
  };
}
