import type { Deps, Session } from '../../deps';
import { formatDuration } from '../../duration';
import { ExitCode, PreflightError, throwIfInterrupted, UsageError } from '../../errors';
import type { AccessCheck } from '../../kube/access';
import type { KubeObject } from '../../kube/resources';
import { waitForObjects } from '../../kube/watch';
import { clusterFinalizer, resources, toolNamespace } from '../../operator/names';
import { type Cluster, findCondition } from '../../operator/schemas';
import { judgeRevocation, type Revocation, vanished } from '../../steps/decommission/evidence';
import {
  addObserver,
  clusterKey,
  hasFinalizer,
  heldByOthers,
  manualRevocation,
  observerFinalizer,
  removeFinalizer,
  removeFinalizers,
  waysOut,
} from '../../steps/decommission/finalizer';
import { followFinalizer } from '../../steps/decommission/follow';
import { type DecommissionPlan, planDecommission } from '../../steps/decommission/plan';
import {
  type DecommissionRecord,
  readDecommissionRecord,
  recordForcedRemoval,
  writeDecommissionRecord,
} from '../../steps/decommission/record';
import { requireAccess, requireNamespace, requireOperatorCrds } from '../../steps/preflight';
import type { DryRunMode } from '../../steps/results';
import { confirm } from '../confirm';
import type { CommonOptions } from '../flags';
import { info, paint, warn } from '../io';
import {
  conditionLine,
  type DecommissionOutcome,
  type DecommissionReport,
  printChecks,
  printDecommission,
} from '../printers/decommission';
import { lockAccess, stepDeps, withLock } from '../step-context';

export interface DecommissionOptions extends CommonOptions {
  /** The Cluster to decommission; the only one when undefined. */
  cluster?: string;
  /** Where Clusters live (-n, default vworkspace-system). */
  namespace: string;
  namespaceExplicit: boolean;
  dryRun: DryRunMode;
  yes: boolean;
  wait: boolean;
  timeoutMs: number;
  skipBackupCheck: boolean;
  forcePreflight: boolean;
  force: boolean;
  failFast: boolean;
  /** A final backup that expires sooner than this does not count. */
  marginMs: number;
}

/** What one decommission run shares between its phases. */
interface Run {
  o: DecommissionOptions;
  deps: Deps;
  session: Session;
  report: DecommissionReport;
  print: (outcome: DecommissionOutcome, cluster?: Cluster, extra?: Record<string, unknown>) => void;
  now: () => string;
}

function decommissionAccess(o: DecommissionOptions): AccessCheck[] {
  const namespace = o.namespace;
  const clusters = (verb: string) => ({ verb, group: resources.clusters.group, resource: 'clusters', namespace });
  const record = (verb: string) => ({ verb, group: '', resource: 'configmaps', namespace: toolNamespace });
  const writes = o.dryRun !== 'client';
  return [
    clusters('list'),
    clusters('watch'),
    ...(writes ? [clusters('delete'), clusters('patch')] : []),
    // The step 3 record, and the lock.
    ...(o.dryRun === 'none' ? [record('get'), record('create'), record('patch'), ...lockAccess] : []),
    ...(o.force && writes ? [{ verb: 'create', group: '', resource: 'events', namespace }] : []),
  ];
}

/** Says what the record says a user still owes Odoo. */
function warnOwed(deps: Deps, record: DecommissionRecord | undefined) {
  if (record?.outcome === 'forced')
    warn(
      deps.io,
      `its finalizer was removed by force at ${record.forcedAt}: credential of cluster ID ${record.clusterID} was NOT revoked in Odoo`,
    );
  if (record?.outcome === 'unconfirmed')
    warn(
      deps.io,
      `revocation not confirmed for cluster ID ${record.clusterID}: ${record.evidence ?? 'no evidence'}; revoke it by hand in Odoo's Cluster Registry`,
    );
}

/** Step 3 is already done: say so; a record nobody finished says the revocation was not seen. */
async function alreadyGone(run: Run): Promise<number> {
  const { o, deps, session } = run;
  info(deps.io, `no Cluster${o.cluster ? ` "${o.cluster}"` : ''} in namespace ${o.namespace}: step 3 is done`);
  let record = await readDecommissionRecord(session.client);
  if (record?.outcome === 'in-progress' && o.dryRun === 'none') {
    const cluster = {
      metadata: { name: record.cluster, namespace: o.namespace },
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

/** --force: remove the finalizer of a Cluster whose deletion is stuck, after a typed confirmation. */
async function forcePhase(run: Run, cluster: Cluster): Promise<number> {
  const { o, deps, session } = run;
  if (!cluster.metadata.deletionTimestamp) {
    throw new UsageError(
      `Cluster ${cluster.metadata.name} is not being deleted: --force only removes the finalizer of a Cluster whose deletion is stuck`,
      `run first: kubectl vw decommission ${cluster.metadata.name} -n ${o.namespace}`,
    );
  }
  const manual = { manualActions: [manualRevocation(cluster)] };
  if (!hasFinalizer(cluster as KubeObject)) {
    info(deps.io, `Cluster ${cluster.metadata.name} has no decommission finalizer left; following it`);
    if (o.dryRun !== 'none') {
      run.print(o.dryRun === 'client' ? 'planned' : 'validated', cluster);
      return ExitCode.ok;
    }
    return withLock(deps, session, 'DecommissionResult', (signal) => followPhase(run, cluster, signal));
  }
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
  const left = await withLock(deps, session, 'DecommissionForce', async (signal) => {
    await recordForcedRemoval(session.client, cluster, run.now());
    await removeFinalizer(session.client, cluster as KubeObject, false);
    return untilGone(run, cluster, 0, signal);
  });
  throwIfInterrupted(deps.signal);
  warn(deps.io, `finalizer removed by force; the credential was not revoked server-side. ${manualRevocation(cluster)}`);
  run.print('forced', cluster, { ...manual, gone: !left });
  return left ? ExitCode.timeout : ExitCode.ok;
}

/** The preflight checks on stderr; failed ones refuse unless --force-preflight. */
function checkPreflight(run: Run, plan: DecommissionPlan, cluster: Cluster) {
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
 * Records step 3, then deletes exactly the planned Cluster (by uid). With --wait, kubectl vw's
 * observer finalizer goes on first, so the operator's removal of its own can be seen and judged.
 */
async function deleteCluster(run: Run, cluster: Cluster) {
  const { o, session } = run;
  const operatorFinalizer = hasFinalizer(cluster as KubeObject);
  await writeDecommissionRecord(
    session.client,
    cluster,
    { outcome: 'in-progress', operatorFinalizer: String(operatorFinalizer) },
    run.now(),
  );
  if (o.wait) await addObserver(session.client, cluster as KubeObject);
  await session.client.delete(resources.clusters, cluster.metadata.name, o.namespace, {
    preconditions: { uid: cluster.metadata.uid },
  });
  info(
    run.deps.io,
    `deleted Cluster ${cluster.metadata.name}; ${o.wait ? "following the operator's finalizer" : 'not following its finalizer (--no-wait)'}`,
  );
}

/** The finalizer drained: judge the evidence, record it, and let kubectl vw's own finalizer go. */
async function recordOutcome(run: Run, latest: Cluster, revocation: Revocation, ms: number): Promise<number> {
  const { deps, session } = run;
  const stored = await readDecommissionRecord(session.client);
  if (stored?.outcome === 'forced' && stored.cluster === latest.metadata.name) {
    warnOwed(deps, stored);
    run.print('forced', latest, { manualActions: [manualRevocation(latest)] });
    return ExitCode.ok;
  }
  const outcome = revocation.confirmed ? 'revoked' : 'unconfirmed';
  await writeDecommissionRecord(
    session.client,
    latest,
    { outcome, finishedAt: run.now(), evidence: revocation.evidence },
    run.now(),
  );
  await removeFinalizers(session.client, latest as KubeObject, [observerFinalizer]);
  const held = await untilGone(run, latest, ms);
  if (held)
    return reportHeld(
      run,
      held,
      revocation.confirmed ? revokedWords : `revocation not confirmed (${revocation.evidence})`,
    );
  const name = latest.metadata.name;
  if (revocation.confirmed) {
    info(
      deps.io,
      `Cluster ${name} is gone: Odoo acknowledged the decommission and revoked the credential (${formatDuration(ms)})`,
    );
    run.print('decommissioned', latest, { evidence: revocation.evidence });
  } else {
    warn(
      deps.io,
      `Cluster ${name} is gone; revocation not confirmed: ${revocation.evidence}. ${manualRevocation(latest)}`,
    );
    run.print('unconfirmed', latest, { evidence: revocation.evidence, manualActions: [manualRevocation(latest)] });
  }
  return ExitCode.ok;
}

const revokedWords = 'Odoo acknowledged the decommission and revoked the credential';

/** Waits, for what is left of --timeout, until the Cluster is gone; returns it if something still holds it. */
async function untilGone(
  run: Run,
  cluster: Cluster,
  spentMs: number,
  signal = run.deps.signal,
): Promise<Cluster | undefined> {
  const { client } = run.session;
  const { namespace, name } = cluster.metadata;
  const waited = await waitForObjects(client, resources.clusters, [clusterKey(cluster)], (obj) => !obj, {
    namespace,
    timeoutMs: Math.max(run.o.timeoutMs - spentMs, 1000),
    signal,
  });
  throwIfInterrupted(signal);
  if (!waited.timedOut) return undefined;
  return (await client.find(resources.clusters, name, namespace)) as Cluster | undefined;
}

/**
 * The operator's part is done (its finalizer went) yet the Cluster stays: someone else's finalizer
 * holds it. Saying "gone" would be false, and purge would refuse: exit 4, naming the finalizer.
 */
function reportHeld(run: Run, latest: Cluster, done: string): number {
  const { deps } = run;
  const { name, namespace } = latest.metadata;
  const held = heldByOthers(latest as KubeObject);
  const list = held.join(', ') || 'a finalizer';
  deps.io.err(
    paint(
      deps.io,
      'red',
      `Cluster ${name} is still there: ${done}, but ${list} still holds it, set by neither the operator nor kubectl vw.`,
    ),
  );
  deps.io.err(
    `  whoever set it removes it; step 3 is done once the Cluster is gone (see: kubectl get clusters.ops.vworkspace.io ${name} -n ${namespace} -o jsonpath='{.metadata.finalizers}')`,
  );
  run.print('held', latest, { finalizers: held });
  return ExitCode.timeout;
}

/** What the record says of a Cluster the operator has let go. */
function doneWords(record: DecommissionRecord | undefined): string {
  if (record?.outcome === 'revoked') return revokedWords;
  if (record?.outcome === 'forced') return 'its finalizer was removed by force (Odoo did not revoke the credential)';
  return "the operator's finalizer is gone";
}

/** The finalizer did not drain in time: the operator's word and the procedure's two ways out. */
function reportStuck(run: Run, cluster: Cluster, latest: Cluster, ms: number): number {
  const { deps } = run;
  const d = findCondition(latest.status?.conditions, 'Decommissioning');
  deps.io.err(
    paint(
      deps.io,
      'red',
      `Cluster ${cluster.metadata.name} is still there after ${formatDuration(ms)}: the finalizer has not drained.`,
    ),
  );
  if (d) deps.io.err(`  operator says: ${conditionLine(d)}`);
  deps.io.err('Two ways out:');
  for (const w of waysOut(latest)) deps.io.err(`  ${w}`);
  run.print(d?.status === 'False' ? 'blocked' : 'timed-out', latest, {
    condition: d ?? null,
    waysOut: waysOut(latest),
  });
  return ExitCode.timeout;
}

/** Follows the operator's finalizer until it drains (or the Cluster goes), echoing each condition. */
async function followPhase(run: Run, cluster: Cluster, signal = run.deps.signal): Promise<number> {
  const { o, deps, session } = run;
  const started = deps.clock.monotonic();
  const elapsed = () => deps.clock.monotonic() - started;
  const followed = await followFinalizer(stepDeps(deps, session.client, signal), cluster, {
    timeoutMs: o.timeoutMs,
    failFast: o.failFast,
    onCondition: (c) => deps.io.err(`  ${formatDuration(elapsed()).padStart(4)}  ${conditionLine(c)}`),
  });
  throwIfInterrupted(signal);
  const stored = await readDecommissionRecord(session.client);
  const atDeletion = stored?.cluster === cluster.metadata.name ? stored.operatorFinalizer !== 'false' : true;
  if (followed.end === 'released')
    return recordOutcome(run, followed.latest, judgeRevocation(followed.latest, atDeletion), elapsed());
  if (followed.end === 'gone') return recordOutcome(run, followed.latest, vanished, elapsed());
  if (heldByOthers(followed.latest as KubeObject).length) return reportHeld(run, followed.latest, doneWords(stored));
  return reportStuck(run, cluster, followed.latest, elapsed());
}

/** A Cluster not yet deleted: preflight, confirm, then delete and follow under the lock. */
async function decommissionCluster(run: Run, plan: DecommissionPlan, cluster: Cluster): Promise<number> {
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
  return withLock(deps, session, 'DecommissionResult', async (signal) => {
    await deleteCluster(run, cluster);
    if (!o.wait) {
      run.print('deleting', cluster);
      return ExitCode.ok;
    }
    return followPhase(run, cluster, signal);
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
  await requireAccess(client, decommissionAccess(o));
  const plan = await planDecommission(client, {
    namespace: o.namespace,
    name: o.cluster,
    skipBackupCheck: o.skipBackupCheck,
    judge: { now: deps.clock.now(), marginMs: o.marginMs },
  });
  const report = { context: target.context, namespace: o.namespace, requested: o.cluster, checks: plan.checks };
  const run: Run = {
    o,
    deps,
    session,
    report,
    print: (outcome, cluster, extra) => printDecommission(deps.io, o.output, report, outcome, cluster, extra),
    now: () => new Date(deps.clock.now()).toISOString(),
  };
  const cluster = plan.cluster;
  if (plan.alreadyGone || !cluster) return alreadyGone(run);
  if (o.force) return forcePhase(run, cluster);
  if (!cluster.metadata.deletionTimestamp) return decommissionCluster(run, plan, cluster);
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
  return withLock(deps, session, 'DecommissionResult', (signal) => followPhase(run, cluster, signal));
}
