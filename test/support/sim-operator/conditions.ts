import type { Condition } from '../../../lib/operator/schemas';

/** metav1.Time: RFC 3339 in whole seconds, as the API server writes it. */
export const metaTime = (at = new Date()) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface ConditionUpdate {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

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
