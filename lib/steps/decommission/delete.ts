import { ApiError, isConflict } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { resources } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';
import { type Gate, preconditionsOf } from '../act';
import type { JudgeOptions } from '../final-backups';
import { hasFinalizer, hasObserver, observerFinalizer, removeFinalizers } from './finalizer';
import { type DecommissionPlan, planDecommission } from './plan';
import { writeDecommissionRecord } from './record';

export interface ClusterDeleteOptions {
  namespace: string;
  skipBackupCheck: boolean;
  /** Go on despite failed checks (the user said so): only the Cluster's identity is then judged. */
  forcePreflight: boolean;
  /** Read when the gate is read: a backup's expiry is judged against the moment of the act. */
  judge: () => JudgeOptions;
}

/** What changed, since the checks the user confirmed, that must stop step 3's delete. */
function refusal(confirmed: Cluster, fresh: DecommissionPlan, forcePreflight: boolean) {
  const name = confirmed.metadata.name;
  const again = `run kubectl vw decommission ${name} -n ${confirmed.metadata.namespace} again to check it as it is now`;
  const cluster = fresh.cluster;
  if (!cluster) return { reason: `Cluster ${name} is gone since it was checked`, hint: 'kubectl vw status' };
  if (cluster.metadata.uid !== confirmed.metadata.uid)
    return {
      reason: `Cluster ${name} was replaced since it was checked (uid ${confirmed.metadata.uid} is gone; uid ${cluster.metadata.uid} is another Cluster)`,
      hint: again,
    };
  if (cluster.metadata.deletionTimestamp)
    return { reason: `Cluster ${name} is already being deleted (by someone else)`, hint: again };
  const failed = fresh.checks.filter((c) => !c.ok);
  if (!failed.length || forcePreflight) return undefined;
  return {
    reason: `since it was checked, ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}; nothing was deleted`,
    hint: failed.map((c) => c.fix).find(Boolean) ?? again,
  };
}

/**
 * Step 3's gate, read at the moment of the delete: the very Cluster that was confirmed (by uid),
 * not yet deleted, and every preflight check (instances paused, final backups that count, the
 * operator running, Odoo reachable) holding still.
 */
export function clusterDeleteGate(
  client: KubeClient,
  confirmed: Cluster,
  o: ClusterDeleteOptions,
): Gate<DecommissionPlan> {
  return {
    what: `delete Cluster ${confirmed.metadata.name}`,
    read: () =>
      planDecommission(client, {
        namespace: o.namespace,
        name: confirmed.metadata.name,
        skipBackupCheck: o.skipBackupCheck,
        judge: o.judge(),
      }),
    judge: (fresh) => refusal(confirmed, fresh, o.forcePreflight),
  };
}

const changedMeanwhile = () =>
  new ApiError(409, 'Conflict', 'the Cluster changed while kubectl vw added its finalizer');

/**
 * Adds kubectl vw's observer finalizer to exactly the Cluster judged (JSON patch tests of its uid,
 * resourceVersion and finalizers). A retry whose first attempt landed (its answer lost) fails its
 * test: the Cluster is read again, and carrying the observer is success; anything else changed.
 */
export async function addObserver(client: KubeClient, cluster: Cluster): Promise<Cluster> {
  if (hasObserver(cluster as KubeObject)) return cluster;
  const { name, namespace, uid, resourceVersion, finalizers } = cluster.metadata;
  const ops = [
    { op: 'test', path: '/metadata/uid', value: uid },
    { op: 'test', path: '/metadata/resourceVersion', value: resourceVersion },
    ...(finalizers
      ? [
          { op: 'test', path: '/metadata/finalizers', value: finalizers },
          { op: 'add', path: '/metadata/finalizers/-', value: observerFinalizer },
        ]
      : [{ op: 'add', path: '/metadata/finalizers', value: [observerFinalizer] }]),
  ];
  try {
    return (await client.jsonPatch(resources.clusters, name, namespace, ops)) as Cluster;
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 409 || err.status === 422))) throw err;
    const now = (await client.find(resources.clusters, name, namespace)) as Cluster | undefined;
    const ours = now?.metadata.uid === uid && !now?.metadata.deletionTimestamp && hasObserver(now as KubeObject);
    if (now && ours) return now;
    throw changedMeanwhile();
  }
}

/** The Cluster after a delete whose answer may have been lost: deleted now, by uid, is ours. */
async function deletedAfterAll(client: KubeClient, judged: Cluster): Promise<Cluster | undefined> {
  const now = (await client.find(resources.clusters, judged.metadata.name, judged.metadata.namespace)) as
    | Cluster
    | undefined;
  return now && now.metadata.uid === judged.metadata.uid && now.metadata.deletionTimestamp ? now : undefined;
}

/** After a delete that did not happen: kubectl vw's finalizer must not stay on a live Cluster. */
async function dropObserverFromLive(client: KubeClient, judged: Cluster) {
  const { name, namespace, uid } = judged.metadata;
  const now: KubeObject | undefined = await client.find(resources.clusters, name, namespace).catch(() => undefined);
  if (!now || now.metadata.uid !== uid || now.metadata.deletionTimestamp || !hasObserver(now)) return;
  await removeFinalizers(client, now, [observerFinalizer]).catch(() => undefined);
}

/**
 * Deletes exactly the Cluster judged (its uid and resourceVersion as preconditions), with the
 * observer finalizer added first when the finalizer will be followed. A delete that fails leaves
 * no observer behind on a live Cluster. The step 3 record is written once the delete landed, by
 * uid, with the generation the deletion gave it.
 */
export async function deleteJudgedCluster(
  client: KubeClient,
  judged: Cluster,
  opts: { observe: boolean; now: string; cleanup: KubeClient },
): Promise<Cluster> {
  const operatorFinalizer = hasFinalizer(judged as KubeObject);
  let deleted: Cluster | undefined;
  try {
    const target = opts.observe ? await addObserver(client, judged) : judged;
    const { name, namespace } = judged.metadata;
    deleted = (await client
      .delete(resources.clusters, name, namespace, { preconditions: preconditionsOf(target) })
      .catch(async (err) => {
        if (!isConflict(err)) throw err;
        const landed = await deletedAfterAll(client, judged);
        if (!landed) throw err;
        return landed;
      })) as Cluster;
  } catch (err) {
    if (opts.observe) await dropObserverFromLive(opts.cleanup, judged);
    throw err;
  }
  const generation = deleted.metadata?.generation;
  await writeDecommissionRecord(
    client,
    judged,
    {
      outcome: 'in-progress',
      operatorFinalizer: String(operatorFinalizer),
      ...(generation !== undefined ? { deletionGeneration: String(generation) } : {}),
    },
    opts.now,
  );
  return deleted.metadata?.deletionTimestamp ? deleted : judged;
}
