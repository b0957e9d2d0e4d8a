import type { Deps } from '../../deps';
import { ExitCode, PreflightError } from '../../errors';
import { resources } from '../../operator/names';
import type { Cluster } from '../../operator/schemas';
import { actOnFresh, alsoJudged } from '../../steps/act';
import type { ApprovedPlan } from '../../steps/approved';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import { clusterDeleteGate, deleteJudgedCluster } from '../../steps/decommission/delete';
import { recheckStaleChecks } from '../../steps/decommission/fresh-report';
import { type DecommissionPlan, planDecommission } from '../../steps/decommission/plan';
import { readDecommissionRecord, writeDecommissionRecord } from '../../steps/decommission/record';
import { decommissionNeeds } from '../../steps/needs';
import { requireAccess, requireNamespace, requireOperatorCrds } from '../../steps/preflight';
import { confirm } from '../confirm';
import { hintFlags } from '../hints';
import { info, warn } from '../io';
import { printChecks } from '../printers/decommission';
import { stepDeps, withLock } from '../step-context';
import {
  type DecommissionOptions,
  type DecommissionRun,
  decommissionRun,
  followPhase,
  warnOwed,
} from './decommission-follow';
import { forcePhase } from './decommission-force';

export type { DecommissionOptions };

/** What decommission needs from the API server with these options (kubectl vw rbac prints it). */
export const decommissionNeedsOf = (o: DecommissionOptions) =>
  decommissionNeeds({
    dryRun: o.dryRun,
    namespace: o.namespace,
    force: o.force,
    skipBackupCheck: o.skipBackupCheck,
    veleroNamespace: o.veleroNamespace,
  });

/** Step 3 is already done: say so; a record nobody finished says the revocation was not seen. */
async function alreadyGone(run: DecommissionRun): Promise<number> {
  const { o, deps, session } = run;
  info(deps.io, `no Cluster${o.cluster ? ` "${o.cluster}"` : ''} in namespace ${o.namespace}: step 3 is done`);
  let record = await readDecommissionRecord(session.client);
  if (record?.outcome === 'in-progress' && o.dryRun === 'none') {
    const cluster = {
      metadata: { name: record.cluster, namespace: o.namespace, uid: record.clusterUID },
      spec: {},
      status: { clusterID: record.clusterID },
    };
    record = await withLock(deps, session, 'DecommissionResult', () =>
      writeDecommissionRecord(session.client, cluster as Cluster, {
        outcome: 'unconfirmed',
        finishedAt: run.now(),
        evidence: 'the Cluster went while kubectl vw was not watching its finalizer',
      }),
    );
  }
  warnOwed(deps, record);
  run.print('already-gone', undefined, { record: record ?? null });
  return ExitCode.ok;
}

/** The preflight checks on stderr; failed ones refuse unless --force-preflight. */
function checkPreflight(run: DecommissionRun, plan: DecommissionPlan, cluster: Cluster) {
  const { o, deps } = run;
  info(
    deps.io,
    `preflight for deleting Cluster ${o.namespace}/${cluster.metadata.name} (cluster ID ${cluster.status?.clusterID ?? 'unknown'}):`,
  );
  printChecks(deps.io, plan.checks);
  const failed = plan.checks.filter((c) => !c.ok);
  if (failed.length && !o.forcePreflight) {
    throw new PreflightError(
      `${failed.length} preflight check${failed.length > 1 ? 's' : ''} failed (${failed.map((c) => c.name).join(', ')}); nothing was deleted`,
      'fix them with the commands above, or pass --force-preflight to go on anyway',
    );
  }
  if (failed.length)
    warn(deps.io, `going on despite failed checks (--force-preflight): ${failed.map((c) => c.name).join(', ')}`);
}

/**
 * Under an approved plan, the delete's gate also judges: the Cluster is the one the plan names
 * (by uid), and no application is there that the plan does not name.
 */
function approvedJudge(approved: ApprovedPlan | undefined, client: KubeClient) {
  if (!approved) return undefined;
  return {
    read: () => client.listIfServed(resources.applicationInstances, { metadataOnly: true }),
    judge: (fresh: DecommissionPlan, instances: KubeObject[]) =>
      approved.cluster(fresh.cluster as KubeObject | undefined) ?? approved.instances(instances),
  };
}

/** A Cluster not yet deleted: preflight, confirm, then delete and follow under the lock. */
async function decommissionCluster(run: DecommissionRun, plan: DecommissionPlan, cluster: Cluster): Promise<number> {
  const { o, deps, session } = run;
  checkPreflight(run, plan, cluster);
  if (o.dryRun === 'client') {
    deps.io.err(`would delete cluster.ops.vworkspace.io/${cluster.metadata.name} -n ${o.namespace}`);
    run.print('planned', cluster);
    return ExitCode.ok;
  }
  if (o.dryRun === 'server') {
    await session.client.delete(resources.clusters, cluster.metadata.name, o.namespace, { dryRun: true });
    run.print('validated', cluster);
    return ExitCode.ok;
  }
  await confirm(deps, session.target, `delete Cluster ${cluster.metadata.name} (Odoo then revokes its credential)`, {
    yes: o.yes,
  });
  return withLock(deps, session, 'DecommissionResult', async (lock) => {
    const client = session.client.withSignal(lock.signal);
    // Checked again now, from fresh reads: a resume or a deleted backup during the prompt stops it here.
    const gate = alsoJudged(
      clusterDeleteGate(client, cluster, {
        namespace: o.namespace,
        skipBackupCheck: o.skipBackupCheck,
        forcePreflight: o.forcePreflight,
        judge: () => ({
          now: deps.clock.now(),
          marginMs: o.marginMs,
          veleroNamespace: o.veleroNamespace,
          hint: hintFlags(o, o.marginMs),
        }),
      }),
      approvedJudge(o.approved, client),
    );
    const deleted = await actOnFresh(lock, gate, (fresh) =>
      deleteJudgedCluster(client, fresh.cluster as Cluster, {
        observe: o.wait,
        now: run.now(),
        cleanup: session.client,
      }),
    );
    info(
      deps.io,
      `deleted Cluster ${cluster.metadata.name}; ${o.wait ? "following the operator's finalizer" : 'not following its finalizer (--no-wait)'}`,
    );
    if (!o.wait) {
      run.print('deleting', deleted);
      return ExitCode.ok;
    }
    return followPhase(run, deleted, lock.signal);
  });
}

/**
 * Step 3: which Cluster, preflight, delete (after recording), then follow the operator's
 * finalizer; or, with --force, drop a stuck finalizer and record the revocation owed.
 */
export async function runDecommission(o: DecommissionOptions, deps: Deps): Promise<number> {
  const session = await deps.connect({ ...o.connection, namespace: o.namespace });
  const { client, target } = session;
  await requireOperatorCrds(client);
  // An explicit -n must exist; the default namespace gone means the operator is gone (step 3 done).
  if (o.namespaceExplicit) await requireNamespace(client, o.namespace);
  await requireAccess(client, decommissionNeedsOf(o));
  const plan = await planDecommission(client, {
    namespace: o.namespace,
    name: o.cluster,
    skipBackupCheck: o.skipBackupCheck,
    judge: {
      now: deps.clock.now(),
      marginMs: o.marginMs,
      veleroNamespace: o.veleroNamespace,
      hint: hintFlags(o, o.marginMs),
    },
  });
  const report = { context: target.context, namespace: o.namespace, requested: o.cluster, checks: plan.checks };
  const run = decommissionRun(o, deps, session, report);
  const cluster = plan.cluster;
  if (plan.alreadyGone || !cluster) return alreadyGone(run);
  if (o.force) return forcePhase(run, cluster);
  if (!cluster.metadata.deletionTimestamp) {
    const recheck = { timeoutMs: o.recheckTimeoutMs, skip: o.forcePreflight };
    return decommissionCluster(run, await recheckStaleChecks(stepDeps(deps, client), plan, recheck), cluster);
  }
  info(
    deps.io,
    `Cluster ${cluster.metadata.name} is already being deleted (since ${cluster.metadata.deletionTimestamp}); following its finalizer`,
  );
  // A dry run only reads: it neither follows nor records.
  if (o.dryRun !== 'none') {
    run.print(o.dryRun === 'client' ? 'planned' : 'validated', cluster);
    return ExitCode.ok;
  }
  if (!o.wait) {
    run.print('deleting', cluster);
    return ExitCode.ok;
  }
  return withLock(deps, session, 'DecommissionResult', (lock) => followPhase(run, cluster, lock.signal));
}
