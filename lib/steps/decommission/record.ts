import { isForbidden, isNotFound } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { core, type KubeObject } from '../../kube/resources';
import { clusterFinalizer, decommissionRecord, operatorNamespace, toolNamespace } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';

/**
 * What became of step 3, kept in kube-system so that it outlives the Cluster, the operator's
 * namespace and the CRDs (purge --delete-namespace, --delete-crds):
 * - in-progress: the Cluster was deleted, nobody has seen its finalizer drain yet;
 * - revoked: the operator removed its own finalizer (Odoo acknowledged, the credential is revoked);
 * - unconfirmed: the Cluster went some other way; the revocation is owed by hand;
 * - forced: kubectl vw --force removed the finalizer; the revocation is owed by hand.
 */
export type RecordOutcome = 'in-progress' | 'revoked' | 'unconfirmed' | 'forced';

export interface DecommissionRecord {
  cluster: string;
  /** The Cluster's uid: the record is about this one object, never about whatever has its name. */
  clusterUID?: string;
  clusterID: string;
  odooUrl: string;
  startedAt: string;
  outcome: RecordOutcome;
  finishedAt?: string;
  forcedAt?: string;
  /** Why the outcome is what it is: the evidence seen, or its absence. */
  evidence?: string;
  /** "true" when the operator's finalizer was on the Cluster as kubectl vw deleted it. */
  operatorFinalizer?: string;
  /** metadata.generation once deleted: a condition observed at it or later is the operator's word on the deletion. */
  deletionGeneration?: string;
  skipped?: string;
  /**
   * Why the record no longer speaks for this cluster's credential, kept once purge saw it: helm
   * uninstall removes the release's first revision, the only trace of a later installation.
   */
  supersededBy?: string;
}

export const owesRevocation = (r?: DecommissionRecord) => r?.outcome === 'forced' || r?.outcome === 'unconfirmed';

/** The record is about this very Cluster (by uid): a Cluster of the same name made later is another one. */
export const recordIsAbout = (r: DecommissionRecord | undefined, cluster: Cluster | KubeObject) =>
  Boolean(r?.clusterUID && r.clusterUID === cluster.metadata.uid);

/**
 * Whether the record still speaks for this cluster's credential, or why not: a Cluster there now
 * that is another object than the one recorded, or an installation of the operator made after
 * the record (helm's first revision newer than it), whose Cluster the record never saw.
 */
export function recordStanding(
  record: DecommissionRecord | undefined,
  clusters: KubeObject[],
  installedAt?: string,
): { record?: DecommissionRecord; superseded?: string } {
  if (!record) return {};
  const other = clusters.find((c) => !recordIsAbout(record, c));
  if (other)
    return {
      superseded: `the step 3 record is about ${describeRecorded(record)}, not Cluster ${other.metadata.name} (uid ${other.metadata.uid}) there now`,
    };
  if (record.supersededBy) return { superseded: record.supersededBy };
  const recordedAt = Date.parse(record.startedAt);
  const installed = installedAt ? Date.parse(installedAt) : Number.NaN;
  if (!clusters.length && installed > recordedAt)
    return {
      superseded: `the operator was installed again at ${installedAt}, after the step 3 record of ${describeRecorded(record)} (${record.startedAt}): what became of that installation's Cluster is unknown`,
    };
  return { record };
}

/**
 * Keeps, in the record itself, that a later installation superseded it, before helm uninstall
 * takes away the evidence (the release's first revision): afterwards the record alone would read
 * as the last word on the credential, and a Cluster removed by hand since would go unmentioned.
 * Writes only when the record is superseded now and does not say so yet.
 */
export async function keepSupersession(
  client: KubeClient,
  clusters: KubeObject[],
  installedAt: string | undefined,
): Promise<string | undefined> {
  // One read, judged and patched with its resourceVersion: only kube-system's copy outlives helm
  // uninstall (an older version's copy in the operator's namespace goes with it).
  const cm = await client.find(core.configMaps, decommissionRecord, toolNamespace);
  const record = cm && recordOf(cm);
  if (!cm || !record || record.supersededBy) return undefined;
  const { superseded } = recordStanding(record, clusters, installedAt);
  if (!superseded) return undefined;
  await client.mergePatch(core.configMaps, decommissionRecord, toolNamespace, {
    metadata: { resourceVersion: cm.metadata.resourceVersion },
    data: { supersededBy: superseded },
  });
  return superseded;
}

/** The recorded Cluster by what identifies it, for people. */
export const describeRecorded = (r: DecommissionRecord) =>
  `Cluster ${r.cluster} (${r.clusterUID ? `uid ${r.clusterUID}` : 'uid not recorded'}, cluster ID ${r.clusterID || 'unknown'})`;

/** Writes (or updates) the step 3 record. */
export async function writeDecommissionRecord(
  client: KubeClient,
  cluster: Cluster,
  update: Partial<DecommissionRecord>,
  now = new Date().toISOString(),
): Promise<DecommissionRecord> {
  const existing = await readDecommissionRecord(client);
  // The same Cluster object, by uid: an earlier record about another Cluster of that name is replaced whole.
  const same = recordIsAbout(existing, cluster);
  const record: DecommissionRecord = {
    cluster: cluster.metadata.name,
    clusterUID: cluster.metadata.uid,
    clusterID: cluster.status?.clusterID || (same ? existing?.clusterID : '') || '',
    odooUrl: cluster.spec.odoo?.url ?? (same ? existing?.odooUrl : '') ?? '',
    startedAt: same && existing ? existing.startedAt : now,
    outcome: 'in-progress',
    ...update,
  };
  // A merge patch of data: keys of an earlier record that this one does not set are dropped.
  const stale = Object.fromEntries(
    Object.keys(existing ?? {})
      .filter((k) => !(k in record))
      .map((k) => [k, null]),
  );
  const data = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
  const cm = await client.find(core.configMaps, decommissionRecord, toolNamespace);
  if (cm) await client.mergePatch(core.configMaps, decommissionRecord, toolNamespace, { data: { ...stale, ...data } });
  else {
    const metadata = {
      name: decommissionRecord,
      namespace: toolNamespace,
      labels: { 'app.kubernetes.io/managed-by': 'kubectl-vw' },
    };
    await client.create(core.configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata, data }, toolNamespace);
  }
  return record;
}

/** The step 3 record, from kube-system (or, as older versions kept it, the operator's namespace). */
export async function readDecommissionRecord(client: KubeClient): Promise<DecommissionRecord | undefined> {
  // Both places at once (one round trip); kube-system's wins.
  const found = await Promise.all(
    [toolNamespace, operatorNamespace].map(async (namespace) => {
      try {
        return await client.find(core.configMaps, decommissionRecord, namespace);
      } catch (err) {
        // Where older versions kept it is read only if it may be: kubectl vw asks no right for it.
        if (isNotFound(err) || (namespace !== toolNamespace && isForbidden(err))) return undefined;
        throw err;
      }
    }),
  );
  const cm = found.find(Boolean);
  return cm ? recordOf(cm) : undefined;
}

/** The record a ConfigMap holds. */
function recordOf(cm: KubeObject): DecommissionRecord {
  const data = cm.data as unknown as Omit<DecommissionRecord, 'outcome'> & { outcome: string };
  // Older versions wrote "decommissioned" without the evidence that now stands behind "revoked".
  const outcome = (data.outcome === 'decommissioned' ? 'unconfirmed' : data.outcome) as RecordOutcome;
  return { ...data, outcome };
}

/**
 * Records a forced finalizer removal twice: an Event for `kubectl get events`, and the step 3
 * record, which outlives the Event's one-hour TTL, so `kubectl vw status` keeps saying that the
 * credential was never revoked server-side.
 */
export async function recordForcedRemoval(
  client: KubeClient,
  cluster: Cluster,
  now: string,
): Promise<DecommissionRecord> {
  const ns = cluster.metadata.namespace ?? '';
  const clusterID = cluster.status?.clusterID ?? '';
  const message = `kubectl vw removed finalizer ${clusterFinalizer} from Cluster ${cluster.metadata.name} (cluster ID ${clusterID}) by force: the credential was NOT revoked in Odoo; revoke it by hand in Odoo's Cluster Registry`;
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
  return writeDecommissionRecord(
    client,
    cluster,
    {
      outcome: 'forced',
      forcedAt: now,
      skipped:
        'server-side revocation of the bootstrap credential and keypair in Odoo (POST /api/agent/cluster/decommission)',
    },
    now,
  );
}
