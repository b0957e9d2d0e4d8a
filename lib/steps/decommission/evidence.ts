import type { ManagedFieldsEntry } from '../../kube/managed-fields';
import { toolFieldManager } from '../../operator/names';
import { type Cluster, type Condition, findCondition } from '../../operator/schemas';

/** Whether Odoo revoked the credential, and why kubectl vw says so (or does not). */
export interface Revocation {
  confirmed: boolean;
  evidence: string;
}

const time = (s?: string) => (s ? Date.parse(s) : Number.NaN);

/** The conditions the operator wrote about the deleted Cluster: observed at its deletion's generation or later. */
export function reportsOnDeletion(cluster: Cluster, deletionGeneration: number | undefined): Condition[] {
  if (deletionGeneration === undefined || !Number.isInteger(deletionGeneration)) return [];
  return (cluster.status?.conditions ?? []).filter(
    (c) => typeof c.observedGeneration === 'number' && c.observedGeneration >= deletionGeneration,
  );
}

/**
 * Who, by managedFields, wrote the Cluster's metadata after its deletion: a hand that removed a
 * finalizer is named there only if it set something too, so this is a clue, never proof.
 */
function handsAfterDeletion(cluster: Cluster): string[] {
  const deletedAt = time(cluster.metadata.deletionTimestamp);
  const entries = (cluster.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  return entries
    .filter((e) => !e.subresource && e.manager !== toolFieldManager && time(e.time) >= deletedAt)
    .filter(
      (e) => (e.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.['f:metadata']?.['f:finalizers'],
    )
    .map((e) => e.manager ?? 'unknown');
}

/**
 * Judges a Cluster whose operator finalizer is gone while kubectl vw's observer finalizer still
 * holds it. Revocation is claimed only on positive evidence that the operator itself saw the
 * deletion and did not fail: the contract says it removes its finalizer only after Odoo's 2xx,
 * but a finalizer removed by hand looks the same, so the operator's own word is required:
 * - its finalizer was on the Cluster when it was deleted (it took part);
 * - the Cluster has a cluster ID (it registered: there is a credential to revoke);
 * - kubectl vw's own finalizer stayed (the procedure's manual way out, finalizers: null, takes it too);
 * - the operator reported on the deletion: a condition observed at the deletion's generation or
 *   later (the API server bumps metadata.generation when it marks an object deleted);
 * - no OdooUnreachable stands among those reports, unless the operator has reported
 *   OdooReachable=True since.
 */
export function judgeRevocation(
  cluster: Cluster,
  operatorFinalizerAtDeletion: boolean,
  deletionGeneration: number | undefined,
): Revocation {
  if (!operatorFinalizerAtDeletion)
    return {
      confirmed: false,
      evidence: "the operator's finalizer was not on the Cluster when it was deleted: the operator never took part",
    };
  if (!cluster.status?.clusterID)
    return { confirmed: false, evidence: 'the Cluster has no cluster ID: it never registered with Odoo' };
  const reports = reportsOnDeletion(cluster, deletionGeneration);
  if (!reports.length) {
    const hands = handsAfterDeletion(cluster);
    return {
      confirmed: false,
      evidence: `the operator's finalizer went, but the operator never reported on the deletion (no condition observed at generation ${deletionGeneration ?? 'unknown'} or later)${hands.length ? `; written after the deletion by ${hands.join(', ')}` : ': it may have been removed by hand'}`,
    };
  }
  const d = findCondition(reports, 'Decommissioning');
  const reachable = findCondition(reports, 'OdooReachable');
  const unreachable = d?.status === 'False' && d.reason === 'OdooUnreachable';
  const reachedSince =
    reachable?.status === 'True' && time(reachable.lastTransitionTime) >= time(d?.lastTransitionTime);
  if (unreachable && !reachedSince)
    return {
      confirmed: false,
      evidence: `the operator's finalizer went while it still reported Decommissioning=False/OdooUnreachable (${d?.message ?? 'no message'})`,
    };
  return {
    confirmed: true,
    evidence: `the operator reported on the deletion (${reports.map((c) => `${c.type}=${c.status}`).join(', ')} at generation ${deletionGeneration}) and removed its own finalizer, with no OdooUnreachable standing; kubectl vw's observer finalizer stayed`,
  };
}

/** Why a Cluster that vanished while kubectl vw watched cannot count as revoked. */
export const vanished: Revocation = {
  confirmed: false,
  evidence:
    "the Cluster went without its finalizer draining under kubectl vw's eyes (its observer finalizer was removed too, e.g. by finalizers: null)",
};
