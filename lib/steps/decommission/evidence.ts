import { type Cluster, findCondition } from '../../operator/schemas';

/** Whether Odoo revoked the credential, and why kubectl vw says so (or does not). */
export interface Revocation {
  confirmed: boolean;
  evidence: string;
}

const time = (s?: string) => (s ? Date.parse(s) : Number.NaN);

/**
 * Judges a Cluster whose operator finalizer is gone while kubectl vw's observer finalizer still
 * holds it. The contract says the operator removes its finalizer only after Odoo's 2xx
 * acknowledgement, and defines only the failure (Decommissioning=False/OdooUnreachable). So the
 * removal counts as the operator's acknowledged decommission only when:
 * - the operator's finalizer was on the Cluster when it was deleted (it registered it);
 * - the Cluster has a cluster ID (it registered with Odoo: there is a credential to revoke);
 * - kubectl vw's own finalizer stayed (the procedure's manual way out, finalizers: null, takes it too);
 * - no OdooUnreachable stands, unless the operator has reported OdooReachable=True since.
 */
export function judgeRevocation(cluster: Cluster, operatorFinalizerAtDeletion: boolean): Revocation {
  if (!operatorFinalizerAtDeletion)
    return {
      confirmed: false,
      evidence: "the operator's finalizer was not on the Cluster when it was deleted: the operator never took part",
    };
  if (!cluster.status?.clusterID)
    return { confirmed: false, evidence: 'the Cluster has no cluster ID: it never registered with Odoo' };
  const d = findCondition(cluster.status?.conditions, 'Decommissioning');
  const reachable = findCondition(cluster.status?.conditions, 'OdooReachable');
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
    evidence:
      "the operator removed its own finalizer (kubectl vw's observer finalizer stayed) with no OdooUnreachable standing",
  };
}

/** Why a Cluster that vanished while kubectl vw watched cannot count as revoked. */
export const vanished: Revocation = {
  confirmed: false,
  evidence:
    "the Cluster went without its finalizer draining under kubectl vw's eyes (its observer finalizer was removed too, e.g. by finalizers: null)",
};
