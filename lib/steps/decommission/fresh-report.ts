import type { StepDeps } from '../../deps';
import { formatDuration } from '../../duration';
import { waitForObjects } from '../../kube/watch';
import { resources } from '../../operator/names';
import { type Cluster, clusterSchema, findCondition } from '../../operator/schemas';
import { clusterKey } from './finalizer';
import { checkOdooReachable, type DecommissionPlan } from './plan';

// A condition the operator re-evaluates by itself (OdooReachable, from its periodic health call)
// may be older than the world: Odoo came back a moment ago, the operator has not looked yet. When
// such a check is the only one failing, refusing at once would send the user round again on stale
// evidence; instead the Cluster is watched, for a bounded time, for the operator's next report.

/** Preflight checks the operator re-evaluates on its own, by the condition that feeds each. */
const selfRechecked: Record<string, { condition: string; judge: (c: Cluster) => DecommissionPlan['checks'][number] }> =
  {
    'Odoo reachable': { condition: 'OdooReachable', judge: checkOdooReachable },
  };

export const defaultRecheckTimeoutMs = 30_000;

/** A condition as the operator last wrote it: any change in it is a new report. */
const reportOf = (c: Cluster | undefined, type: string) =>
  JSON.stringify(findCondition(c?.status?.conditions, type) ?? null);

/**
 * When every failing check is one the operator re-evaluates by itself, waits up to timeoutMs for
 * its next report on that condition, then judges those checks again on it. The plan's checks are
 * replaced in place (its report and its refusal read them); its Cluster is the latest seen.
 */
export async function recheckStaleChecks(
  deps: StepDeps,
  plan: DecommissionPlan,
  opts: { timeoutMs?: number; skip?: boolean },
): Promise<DecommissionPlan> {
  const timeoutMs = opts.timeoutMs ?? defaultRecheckTimeoutMs;
  const failing = plan.checks.filter((c) => !c.ok);
  const cluster = plan.cluster;
  if (opts.skip || !cluster || !timeoutMs || !failing.length || !failing.every((c) => selfRechecked[c.name]))
    return plan;
  const types = [...new Set(failing.map((c) => selfRechecked[c.name]?.condition ?? ''))];
  const before = new Map(types.map((t) => [t, reportOf(cluster, t)]));
  deps.report.info(
    `${failing.map((c) => `${c.name}: ${c.detail}`).join('; ')}; the operator re-checks this by itself: waiting up to ${formatDuration(timeoutMs)} for the operator's next report on ${types.join(', ')}`,
  );
  let latest = cluster;
  const waited = await waitForObjects(
    deps.client,
    resources.clusters,
    [clusterKey(cluster)],
    (obj) => {
      const parsed = obj ? clusterSchema.safeParse(obj) : undefined;
      if (parsed?.success) latest = parsed.data;
      return !obj || types.some((t) => reportOf(latest, t) !== before.get(t));
    },
    { namespace: cluster.metadata.namespace, timeoutMs, signal: deps.signal },
  );
  const stale = waited.timedOut ? `; no new report within ${formatDuration(timeoutMs)}` : '';
  plan.checks.forEach((c, i) => {
    const recheck = !c.ok && selfRechecked[c.name];
    if (!recheck) return;
    const fresh = recheck.judge(latest);
    plan.checks[i] = fresh.ok ? fresh : { ...fresh, detail: `${fresh.detail}${stale}` };
  });
  return { ...plan, cluster: latest };
}
