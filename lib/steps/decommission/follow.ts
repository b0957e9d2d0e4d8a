import type { StepDeps } from '../../deps';
import { formatDuration } from '../../duration';
import { waitForObjects } from '../../kube/watch';
import { resources } from '../../operator/names';
import { type Cluster, type Condition, clusterSchema, findCondition } from '../../operator/schemas';
import { clusterKey, releasedToObserver } from './finalizer';

export interface FollowOutcome {
  /**
   * released: the operator's finalizer went and kubectl vw's observer finalizer holds the Cluster;
   * gone: the Cluster was deleted; timeout: still there; fail-fast: the operator said OdooUnreachable.
   */
  end: 'released' | 'gone' | 'timeout' | 'fail-fast';
  /** The Cluster as last seen before it went (or now). */
  latest: Cluster;
}

export const isOdooUnreachable = (c: Cluster) => {
  const d = findCondition(c.status?.conditions, 'Decommissioning');
  return d?.status === 'False' && d.reason === 'OdooUnreachable';
};

/**
 * Follows a deleted Cluster through a watch until it is gone, reporting each condition the
 * operator changes. With failFast it stops as soon as the operator reports OdooUnreachable.
 */
export async function followFinalizer(
  deps: StepDeps,
  cluster: Cluster,
  opts: { timeoutMs: number; failFast: boolean; onCondition: (c: Condition) => void },
): Promise<FollowOutcome> {
  const seen = new Map<string, string>();
  let latest = cluster;
  let failFast = false;
  let gone = false;
  const started = deps.clock.monotonic();
  deps.report.waiting(
    () =>
      `Cluster ${cluster.metadata.name} still holds the operator's finalizer after ${formatDuration(deps.clock.monotonic() - started)}`,
  );
  const outcome = await waitForObjects(
    deps.client,
    resources.clusters,
    [clusterKey(cluster)],
    (obj) => {
      gone = !obj;
      if (!obj) return true;
      const parsed = clusterSchema.safeParse(obj);
      if (parsed.success) latest = parsed.data;
      failFast = opts.failFast && isOdooUnreachable(latest);
      return failFast || releasedToObserver(obj);
    },
    {
      namespace: cluster.metadata.namespace,
      timeoutMs: opts.timeoutMs,
      signal: deps.signal,
      onChange: (_key, obj) => {
        if (!obj) return;
        for (const c of latest.status?.conditions ?? []) {
          const line = JSON.stringify([c.status, c.reason, c.message]);
          if (seen.get(c.type) === line) continue;
          seen.set(c.type, line);
          opts.onCondition(c);
        }
      },
    },
  ).finally(() => deps.report.done());
  const end = outcome.pending.length ? 'timeout' : gone ? 'gone' : failFast ? 'fail-fast' : 'released';
  return { end, latest };
}
