import { ApiError, isNotFound } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { clusterFinalizer, resources, toolPrefix } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';

export const clusterKey = (c: Cluster) => `${c.metadata.namespace}/${c.metadata.name}`;
export const hasFinalizer = (c: KubeObject) => (c.metadata.finalizers ?? []).includes(clusterFinalizer);

/** The two ways out the procedure names, as commands to paste. */
export function waysOut(cluster: Cluster): string[] {
  const ns = cluster.metadata.namespace;
  const name = cluster.metadata.name;
  return [
    `1. (recommended) restore connectivity from the operator to Odoo (${cluster.spec.odoo?.url ?? 'spec.odoo.url'}); the finalizer then drains by itself. Follow it with: kubectl vw decommission ${name} -n ${ns}`,
    `2. only if Odoo is permanently gone: kubectl vw decommission ${name} -n ${ns} --force   (then revoke the credential by hand in Odoo's Cluster Registry, cluster ID ${cluster.status?.clusterID ?? 'unknown'})`,
  ];
}

export function manualRevocation(cluster: Cluster): string {
  return `Revoke by hand in Odoo: Cluster Registry -> cluster ID ${cluster.status?.clusterID ?? '(unknown: see the Cluster status before it was removed)'} (${cluster.metadata.name}, Odoo ${cluster.spec.odoo?.url ?? 'unknown URL'}) -> revoke the bootstrap credential and keypair, then mark it Decommissioned.`;
}

/** --force: removes the operator's finalizer (and kubectl vw's observer), only from the list as seen. */
export const removeFinalizer = (client: KubeClient, cluster: KubeObject, dryRun: boolean) =>
  removeFinalizers(client, cluster, [clusterFinalizer, observerFinalizer], dryRun);

/**
 * kubectl vw's own finalizer, added to the Cluster just before deleting it, so the moment the
 * operator removes its finalizer is kept on the object for kubectl vw to see (who removed what,
 * which conditions stood), rather than lost with the object. Removed by kubectl vw once seen.
 */
export const observerFinalizer = `${toolPrefix}/decommission-observer`;
export const hasObserver = (c: KubeObject) => (c.metadata.finalizers ?? []).includes(observerFinalizer);

/** Finalizers neither the operator nor kubectl vw set: someone else's, which only they may remove. */
export const foreignFinalizers = (c: KubeObject) =>
  (c.metadata.finalizers ?? []).filter((f) => f !== clusterFinalizer && f !== observerFinalizer);

/**
 * A Cluster being deleted that neither the operator's finalizer nor kubectl vw's holds any more:
 * the finalizers left, someone else's, which only they may remove (none: it is about to go).
 */
export const heldByOthers = (c: KubeObject): string[] =>
  c.metadata.deletionTimestamp && !hasFinalizer(c) && !hasObserver(c) ? foreignFinalizers(c) : [];

/** The operator removed its finalizer and kubectl vw's still holds the Cluster: time to judge and let go. */
export const releasedToObserver = (c: KubeObject) => hasObserver(c) && !hasFinalizer(c);

/**
 * Removes the given finalizers, only from the list as seen. A retry whose first attempt landed
 * (its answer lost) fails its test with 422 or 409: the Cluster is re-read, and if none of them is
 * left (or it is gone), the removal is done.
 */
export async function removeFinalizers(client: KubeClient, cluster: KubeObject, names: string[], dryRun = false) {
  let current: KubeObject | undefined = cluster;
  for (let attempt = 0; attempt < 5 && current; attempt++) {
    const finalizers: string[] = current.metadata.finalizers ?? [];
    if (!finalizers.some((f) => names.includes(f))) return;
    try {
      await client.jsonPatch(
        resources.clusters,
        current.metadata.name,
        current.metadata.namespace,
        [
          // Exactly the object read: one re-created under its name is another Cluster.
          ...(cluster.metadata.uid ? [{ op: 'test', path: '/metadata/uid', value: cluster.metadata.uid }] : []),
          { op: 'test', path: '/metadata/finalizers', value: finalizers },
          { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((f) => !names.includes(f)) },
        ],
        { dryRun },
      );
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      if (!(err instanceof ApiError && (err.status === 409 || err.status === 422))) throw err;
      current = await client.find(resources.clusters, cluster.metadata.name, cluster.metadata.namespace);
      // The object meant is gone: one under its name now is another, and none of its business.
      if (cluster.metadata.uid && current && current.metadata.uid !== cluster.metadata.uid) return;
    }
  }
}
