import { isNotFound } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { core } from '../../kube/resources';
import { clusterFinalizer, decommissionRecord } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';

export interface DecommissionRecord {
  cluster: string;
  clusterID: string;
  odooUrl: string;
  startedAt: string;
  /** in-progress: deleted, finalizer not drained yet; decommissioned: Odoo revoked; forced: not revoked. */
  outcome: 'in-progress' | 'decommissioned' | 'forced';
  finishedAt?: string;
  forcedAt?: string;
  skipped?: string;
}

/** Writes (or updates) the step 3 record in the Cluster's namespace. */
export async function writeDecommissionRecord(
  client: KubeClient,
  cluster: Cluster,
  update: Partial<DecommissionRecord>,
): Promise<DecommissionRecord> {
  const ns = cluster.metadata.namespace ?? '';
  const existing = await readDecommissionRecord(client, ns);
  const record: DecommissionRecord = {
    cluster: cluster.metadata.name,
    clusterID: cluster.status?.clusterID ?? existing?.clusterID ?? '',
    odooUrl: cluster.spec.odoo?.url ?? existing?.odooUrl ?? '',
    startedAt: existing?.cluster === cluster.metadata.name ? existing.startedAt : new Date().toISOString(),
    outcome: 'in-progress',
    ...update,
  };
  const data = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (existing) await client.mergePatch(core.configMaps, decommissionRecord, ns, { data });
  else {
    await client.create(
      core.configMaps,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: decommissionRecord, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'kubectl-vw' } },
        data,
      },
      ns,
    );
  }
  return record;
}

export async function readDecommissionRecord(
  client: KubeClient,
  namespace: string,
): Promise<DecommissionRecord | undefined> {
  try {
    const cm = await client.find(core.configMaps, decommissionRecord, namespace);
    return cm ? (cm.data as unknown as DecommissionRecord) : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Records a forced finalizer removal twice: an Event for `kubectl get events`, and the step 3
 * record, which outlives the Event's one-hour TTL, so `kubectl vw status` keeps saying that the
 * credential was never revoked server-side.
 */
export async function recordForcedRemoval(client: KubeClient, cluster: Cluster): Promise<DecommissionRecord> {
  const ns = cluster.metadata.namespace ?? '';
  const clusterID = cluster.status?.clusterID ?? '';
  const message = `kubectl vw removed finalizer ${clusterFinalizer} from Cluster ${cluster.metadata.name} (cluster ID ${clusterID}) by force: the credential was NOT revoked in Odoo; revoke it by hand in Odoo's Cluster Registry`;
  const now = new Date().toISOString();
  await client.create(
    core.events,
    {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'kubectl-vw-forced-decommission-', namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Namespace', name: ns, namespace: ns },
      reason: 'ForcedFinalizerRemoval',
      message,
      type: 'Warning',
      source: { component: 'kubectl-vw' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
    ns,
  );
  return writeDecommissionRecord(client, cluster, {
    outcome: 'forced',
    forcedAt: now,
    skipped:
      'server-side revocation of the bootstrap credential and keypair in Odoo (POST /api/agent/cluster/decommission)',
  });
}
