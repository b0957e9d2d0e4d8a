import type { Condition } from '../contract';
import { metaTime } from '../kinds';

export { metaTime };

export interface ConditionUpdate {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export const findCondition = (conditions: Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);

/**
 * apimachinery's meta.SetStatusCondition: lastTransitionTime moves only when status changes;
 * `changed` says whether anything needs writing, so a reconcile that finds the world as it
 * wants it writes nothing (and so triggers no further watch event).
 */
export function setCondition(
  conditions: Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number | undefined,
): { conditions: Condition[]; changed: boolean } {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === update.type);
  const current = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime:
      current && current.status === update.status && current.lastTransitionTime
        ? current.lastTransitionTime
        : metaTime(),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  const changed =
    !current ||
    current.status !== next.status ||
    current.reason !== next.reason ||
    current.message !== next.message ||
    current.observedGeneration !== next.observedGeneration;
  if (!changed) return { conditions: list, changed: false };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return { conditions: list, changed: true };
}
