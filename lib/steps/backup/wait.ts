import type { StepDeps } from '../../deps';
import { objectKey, waitForObjects } from '../../kube/watch';
import { isFinished } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { operationSchema } from '../../operator/schemas';
import type { BackupApplyResult } from './apply';

/** Waits through a watch until every Operation is Succeeded or Failed, reporting each phase change. */
export async function waitForBackups(
  deps: StepDeps,
  items: BackupApplyResult[],
  opts: { namespace?: string; timeoutMs: number; onPhase?: (key: string, phase: string, reason?: string) => void },
) {
  const keys = items.filter((i) => !i.error && !i.skipped).map((i) => `${i.item.namespace}/${i.item.operation}`);
  const lastPhase = new Map<string, string>();
  return waitForObjects(
    deps.client,
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
    { namespace: opts.namespace, timeoutMs: opts.timeoutMs, signal: deps.signal },
  );
}
