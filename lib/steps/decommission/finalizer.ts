import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { clusterFinalizer, resources } from '../../operator/names';
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

/** Removes only our finalizer, and only if the list is still what we saw (JSON patch test). */
export async function removeFinalizer(client: KubeClient, cluster: KubeObject, dryRun: boolean) {
  const finalizers = cluster.metadata.finalizers ?? [];
  await client.jsonPatch(
    resources.clusters,
    cluster.metadata.name,
    cluster.metadata.namespace,
    [
      { op: 'test', path: '/metadata/finalizers', value: finalizers },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((f) => f !== clusterFinalizer) },
    ],
    { dryRun },
  );
}
