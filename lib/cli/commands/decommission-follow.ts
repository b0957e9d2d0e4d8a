import type { Deps, Session } from '../../deps';
import { formatDuration } from '../../duration';
import { ExitCode, throwIfInterrupted } from '../../errors';
import type { KubeObject } from '../../kube/resources';
import { waitForObjects } from '../../kube/watch';
import { resources } from '../../operator/names';
import { type Cluster, findCondition } from '../../operator/schemas';
import { judgeRevocation, type Revocation, vanished } from '../../steps/decommission/evidence';
import {
  clusterKey,
  hasFinalizer,
  heldByOthers,
  manualRevocation,
  observerFinalizer,
  removeFinalizers,
  waysOut,
} from '../../steps/decommission/finalizer';
import { followFinalizer } from '../../steps/decommission/follow';
import {
  type DecommissionRecord,
  readDecommissionRecord,
  recordIsAbout,
  writeDecommissionRecord,
} from '../../steps/decommission/record';
import type { ApprovedPlan } from '../../steps/approved';
import type { DryRunMode } from '../../steps/results';
import type { CommonOptions } from '../flags';
import { info, paint, warn } from '../io';
import {
  conditionLine,
  type DecommissionOutcome,
  type DecommissionReport,
  printDecommission,
} from '../printers/decommission';
import { stepDeps } from '../step-context';

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
  /** Where Velero runs, for the final-backup gate. */
  veleroNamespace: string;
  /** How long to wait for the operator's next report when only a check it re-evaluates fails (default 30 s). */
  recheckTimeoutMs?: number;
  /** The plan a run executes (uninstall --plan): only its Cluster, with no application it does not name. */
  approved?: ApprovedPlan;
}

/** What one decommission run shares between its phases. */
export interface DecommissionRun {
  o: DecommissionOptions;
  deps: Deps;
  session: Session;
  report: DecommissionReport;
  print: (outcome: DecommissionOutcome, cluster?: Cluster, extra?: Record<string, unknown>) => void;
  now: () => string;
}

export function decommissionRun(o: DecommissionOptions, deps: Deps, session: Session, report: DecommissionReport) {
  const run: DecommissionRun = {
    o,
    deps,
    session,
    report,
    print: (outcome, cluster, extra) => {
      if (o.dryRun === 'none') deps.journal?.note('decommission', { [outcome]: 1 });
      printDecommission(deps.io, o.output, report, outcome, cluster, extra);
    },
    now: () => new Date(deps.clock.now()).toISOString(),
  };
  return run;
}

/** Says what the record says a user still owes Odoo. */
export function warnOwed(deps: Deps, record: DecommissionRecord | undefined) {
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

const revokedWords = 'Odoo acknowledged the decommission and revoked the credential';

/** Waits, for what is left of --timeout, until the Cluster is gone; returns it if something still holds it. */
export async function untilGone(
  run: DecommissionRun,
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
function reportHeld(run: DecommissionRun, latest: Cluster, done: string): number {
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

/** The finalizer drained: judge the evidence, record it, and let kubectl vw's own finalizer go. */
async function recordOutcome(
  run: DecommissionRun,
  latest: Cluster,
  revocation: Revocation,
  ms: number,
  signal: AbortSignal,
): Promise<number> {
  const { deps, session } = run;
  const stored = await readDecommissionRecord(session.client);
  if (stored?.outcome === 'forced' && recordIsAbout(stored, latest)) {
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
  const held = await untilGone(run, latest, ms, signal);
  if (held)
    return reportHeld(
      run,
      held,
      revocation.confirmed ? revokedWords : `revocation not confirmed (${revocation.evidence})`,
    );
  const name = latest.metadata.name;
  if (revocation.confirmed) {
    info(deps.io, `Cluster ${name} is gone: ${revokedWords} (${formatDuration(ms)})`);
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

/** What the record says of a Cluster the operator has let go. */
function doneWords(record: DecommissionRecord | undefined): string {
  if (record?.outcome === 'revoked') return revokedWords;
  if (record?.outcome === 'forced') return 'its finalizer was removed by force (Odoo did not revoke the credential)';
  return "the operator's finalizer is gone";
}

/** The finalizer did not drain in time: the operator's word and the procedure's two ways out. */
function reportStuck(run: DecommissionRun, cluster: Cluster, latest: Cluster, ms: number): number {
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

/**
 * What was true of the Cluster at its deletion, from the record about it (by uid) or, for one
 * kubectl vw did not delete, from the Cluster itself: no finalizer can be added to an object being
 * deleted, so the operator's finalizer there now was there then, and the generation seen now is
 * the deletion's (a spec change would only raise it, asking more of the operator's reports).
 */
function atDeletion(record: DecommissionRecord | undefined, cluster: Cluster, firstSeen: Cluster) {
  if (recordIsAbout(record, cluster) && record?.operatorFinalizer)
    return {
      operatorFinalizer: record.operatorFinalizer !== 'false',
      generation: record.deletionGeneration ? Number(record.deletionGeneration) : firstSeen.metadata.generation,
    };
  return { operatorFinalizer: hasFinalizer(firstSeen as KubeObject), generation: firstSeen.metadata.generation };
}

/** Follows the operator's finalizer until it drains (or the Cluster goes), echoing each condition. */
export async function followPhase(run: DecommissionRun, cluster: Cluster, signal = run.deps.signal): Promise<number> {
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
  const then = atDeletion(stored, followed.latest, cluster);
  if (followed.end === 'released')
    return recordOutcome(
      run,
      followed.latest,
      judgeRevocation(followed.latest, then.operatorFinalizer, then.generation),
      elapsed(),
      signal,
    );
  if (followed.end === 'gone') return recordOutcome(run, followed.latest, vanished, elapsed(), signal);
  if (heldByOthers(followed.latest as KubeObject).length) return reportHeld(run, followed.latest, doneWords(stored));
  return reportStuck(run, cluster, followed.latest, elapsed());
}
