import { ExitCode, throwIfInterrupted, UsageError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { clusterFinalizer, resources } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';
import { actOnFresh, type Gate } from '../../steps/act';
import { hasFinalizer, manualRevocation, removeFinalizer } from '../../steps/decommission/finalizer';
import { recordForcedRemoval } from '../../steps/decommission/record';
import { confirm } from '../confirm';
import { info, paint, warn } from '../io';
import { withLock } from '../step-context';
import { type DecommissionRun, followPhase, untilGone } from './decommission-follow';

/** --force's gate, read at the moment of the act: the same Cluster (by uid), still being deleted, still held by the operator. */
function forceGate(client: KubeClient, confirmed: Cluster): Gate<Cluster | undefined> {
  const { name, namespace, uid } = confirmed.metadata;
  return {
    what: `force-remove the finalizer of Cluster ${name}`,
    read: async () => (await client.find(resources.clusters, name, namespace)) as Cluster | undefined,
    judge: (fresh) => {
      if (!fresh)
        return { reason: `Cluster ${name} is gone since it was checked: nothing to force`, hint: 'kubectl vw status' };
      if (fresh.metadata.uid !== uid)
        return {
          reason: `Cluster ${name} was replaced since it was checked (uid ${uid} is gone; uid ${fresh.metadata.uid} is another Cluster)`,
          hint: `run kubectl vw decommission ${name} -n ${namespace} to see where the one there now stands`,
        };
      if (!hasFinalizer(fresh as KubeObject))
        return {
          reason: `the operator removed its finalizer since it was checked: nothing to force`,
          hint: `follow it: kubectl vw decommission ${name} -n ${namespace}`,
        };
      return undefined;
    },
  };
}

/** A --force that has nothing to force: the operator's finalizer is already gone, so follow it. */
async function nothingToForce(run: DecommissionRun, cluster: Cluster): Promise<number> {
  const { o, deps, session } = run;
  info(deps.io, `Cluster ${cluster.metadata.name} has no decommission finalizer left; following it`);
  if (o.dryRun !== 'none') {
    run.print(o.dryRun === 'client' ? 'planned' : 'validated', cluster);
    return ExitCode.ok;
  }
  return withLock(deps, session, 'DecommissionResult', (lock) => followPhase(run, cluster, lock.signal));
}

/** --force: remove the finalizer of a Cluster whose deletion is stuck, after a typed confirmation. */
export async function forcePhase(run: DecommissionRun, cluster: Cluster): Promise<number> {
  const { o, deps, session } = run;
  if (!cluster.metadata.deletionTimestamp) {
    throw new UsageError(
      `Cluster ${cluster.metadata.name} is not being deleted: --force only removes the finalizer of a Cluster whose deletion is stuck`,
      `run first: kubectl vw decommission ${cluster.metadata.name} -n ${o.namespace}`,
    );
  }
  if (!hasFinalizer(cluster as KubeObject)) return nothingToForce(run, cluster);
  const manual = { manualActions: [manualRevocation(cluster)] };
  deps.io.err(
    paint(
      deps.io,
      'red',
      `Forcing removes finalizer ${clusterFinalizer}: Odoo will NOT revoke the credential of cluster ID ${cluster.status?.clusterID ?? 'unknown'}.`,
    ),
  );
  deps.io.err(manualRevocation(cluster));
  if (o.dryRun !== 'none') {
    if (o.dryRun === 'server') await removeFinalizer(session.client, cluster as KubeObject, true);
    run.print(o.dryRun === 'client' ? 'planned' : 'validated', cluster, manual);
    return ExitCode.ok;
  }
  await confirm(deps, session.target, `force-remove the finalizer of Cluster ${cluster.metadata.name}`, {
    yes: o.yes,
    typeToConfirm: cluster.metadata.name,
  });
  const left = await withLock(deps, session, 'DecommissionForce', async (lock) => {
    const client = session.client.withSignal(lock.signal);
    await actOnFresh(lock, forceGate(client, cluster), async (fresh) => {
      await recordForcedRemoval(client, fresh as Cluster, run.now());
      await removeFinalizer(client, fresh as KubeObject, false);
    });
    return untilGone(run, cluster, 0, lock.signal);
  });
  throwIfInterrupted(deps.signal);
  warn(deps.io, `finalizer removed by force; the credential was not revoked server-side. ${manualRevocation(cluster)}`);
  run.print('forced', cluster, { ...manual, gone: !left });
  return left ? ExitCode.timeout : ExitCode.ok;
}
