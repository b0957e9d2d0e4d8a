import type { ActLock, Deps, Session } from '../../deps';
import { ExitCode, PreflightError, UsageError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import { keepSupersession, readDecommissionRecord } from '../../steps/decommission/record';
import { persistsReport } from '../../steps/persists';
import { findHelm, helmUninstall, releaseRows } from '../../steps/purge/helm';
import { type HelmFresh, helmGate } from '../../steps/purge/gates';
import type { ApprovedPlan } from '../../steps/approved';
import {
  deleteCrds,
  deleteOperatorNamespace,
  deleteRemainingCrs,
  type PhaseEvents,
  type PhaseOptions,
} from '../../steps/purge/phases';
import { actOnFresh, alsoJudged, unlocked } from '../../steps/act';
import { describeCrd, type PurgePhase, type PurgePlan, planPurge } from '../../steps/purge/plan';
import { purgeNeeds } from '../../steps/needs';
import { requireAccess, requireOperatorCrdsReadable } from '../../steps/preflight';
import { readReleaseFacts } from '../../steps/purge/release-resources';
import { type DryRunMode, type ObjectResult, summarize } from '../../steps/results';
import { confirm } from '../confirm';
import type { CommonOptions } from '../flags';
import { info, plural, warn } from '../io';
import { document, printDocument, printResults } from '../output';
import { printPersists, printPlan } from '../printers/purge';
import { stepDeps, withLock } from '../step-context';
import { hintFlags } from '../hints';

export interface PurgeOptions extends CommonOptions {
  dryRun: DryRunMode;
  yes: boolean;
  deleteApps: boolean;
  skipBackupCheck: boolean;
  deleteCrds: boolean;
  deleteNamespace: boolean;
  /** CRDs other than the operator's that the release deletes, named on purpose (--delete-release-crds). */
  deleteReleaseCrds: string[];
  forcePreflight: boolean;
  helm?: string;
  /** Only print what persists. */
  report: boolean;
  timeoutMs: number;
  concurrency: number;
  /** A final backup that expires sooner than this does not count (--delete-apps' gate). */
  marginMs: number;
  /** Where Velero runs: the gate and the report survey its Backups there. */
  veleroNamespace: string;
  /** The plan a run executes (uninstall --plan): each delete's gate also judges it is the plan's. */
  approved?: ApprovedPlan;
}

/**
 * What purge needs from the API server with these options (kubectl vw rbac prints it); with what
 * the release renders (read first), also what helm uninstall needs for each of its objects.
 */
export const purgeNeedsOf = (o: PurgeOptions, release?: Awaited<ReturnType<typeof readReleaseFacts>>) =>
  purgeNeeds({
    dryRun: o.dryRun,
    report: o.report,
    deleteApps: o.deleteApps,
    deleteCrds: o.deleteCrds,
    deleteNamespace: o.deleteNamespace,
    skipBackupCheck: o.skipBackupCheck,
    veleroNamespace: o.veleroNamespace,
    ...release,
  });

/** The access review, before anything: what purge needs, then what the release it found needs. */
async function preflight(client: KubeClient, o: PurgeOptions) {
  await requireOperatorCrdsReadable(client);
  await requireAccess(client, purgeNeedsOf(o));
  if (o.report) return;
  await requireAccess(client, purgeNeedsOf(o, await readReleaseFacts(client)));
}

/** What the plan refuses: step 3 not done, no final backups for --delete-apps, CRDs with objects left. */
function refusals(deps: Deps, o: PurgeOptions, plan: PurgePlan) {
  const clusterCheck = plan.checks.find((c) => c.name.startsWith('Cluster CR'));
  if (clusterCheck && !clusterCheck.ok) {
    if (!o.forcePreflight) {
      throw new PreflightError(
        `${clusterCheck.detail}: run step 3 first; nothing was deleted`,
        'kubectl vw decommission   (or --force-preflight to go on anyway)',
      );
    }
    warn(
      deps.io,
      `--force-preflight: ${clusterCheck.detail}; uninstalling the operator now leaves its credential valid in Odoo`,
    );
  }
  const backupCheck = plan.checks.find((c) => c.name === 'final backups');
  if (backupCheck && !backupCheck.ok) {
    throw new PreflightError(
      `refusing --delete-apps: ${backupCheck.detail}`,
      `${backupCheck.fix ?? ''}; or pass --skip-backup-check`,
    );
  }
  refuseCrdLoss(o, plan);
  refuseStep4AfterStep5(deps, o, plan);
}

const remainingText = (plan: PurgePlan) =>
  Object.entries(plan.remainingCrs)
    .filter(([, n]) => n)
    .map(([k, n]) => plural(n, k))
    .join(', ');

/** Deleting a CRD deletes every object of its kind: never as a side effect, never with objects left. */
function refuseCrdLoss(o: PurgeOptions, plan: PurgePlan) {
  const helmPhase = plan.phases.find((p) => p.id === 'step5-helm-uninstall');
  const remaining = remainingText(plan);
  if (plan.helmDeletesCrds.length && helmPhase && !helmPhase.done && !o.deleteCrds) {
    throw new PreflightError(
      `helm uninstall would delete the operator's CRDs (the release renders them without helm.sh/resource-policy: keep, keepCrds=false)${remaining ? `, and with them ${remaining}` : ''}; nothing was deleted`,
      'to wipe on purpose: kubectl vw purge --delete-apps --delete-crds (after final backups); to keep them: helm upgrade the release with keepCrds=true first',
    );
  }
  refuseOtherCrdLoss(o, plan);
  const crdsGo = plan.phases.some((p) => p.id === 'step5-delete-crds' && !p.done) || plan.helmDeletesCrds.length > 0;
  if (crdsGo && o.deleteCrds && !o.deleteApps && remaining) {
    throw new PreflightError(
      `refusing --delete-crds: ${remaining} still exist, and deleting a CRD deletes every object of its kind`,
      'add --delete-apps (step 4) to remove them first, or keep the CRDs',
    );
  }
}

/**
 * Other CRDs the release renders without the keep policy (Flux's, Velero's): helm uninstall takes
 * them, and every HelmRelease or Velero Backup in the cluster with them. Only when each is named.
 */
function refuseOtherCrdLoss(o: PurgeOptions, plan: PurgePlan) {
  const helmPhase = plan.phases.find((p) => p.id === 'step5-helm-uninstall');
  if (!helmPhase || helmPhase.done) return;
  const deletable = new Set(plan.otherCrds.map((c) => c.name));
  const unknown = o.deleteReleaseCrds.filter((n) => !deletable.has(n));
  if (unknown.length)
    throw new UsageError(
      `--delete-release-crds ${unknown.join(',')}: the release does not delete ${unknown.length === 1 ? 'that CRD' : 'those CRDs'}`,
      plan.otherCrds.length
        ? `the CRDs it deletes besides the operator's: ${plan.otherCrds.map((c) => c.name).join(',')}`
        : "it deletes no CRD besides the operator's: drop the flag",
    );
  const unnamed = plan.otherCrds.filter((c) => !o.deleteReleaseCrds.includes(c.name));
  if (!unnamed.length) return;
  throw new PreflightError(
    `helm uninstall would delete ${unnamed.length === 1 ? 'a CRD' : `${unnamed.length} CRDs`} the release renders without helm.sh/resource-policy: keep, and with each every object of its kind: ${unnamed.map(describeCrd).join(', ')}; nothing was deleted`,
    `to let them go on purpose: --delete-release-crds ${plan.otherCrds.map((c) => c.name).join(',')}; to keep them: give them the keep policy in the chart (helm upgrade) first`,
  );
}

/**
 * Step 4 after step 5: with the operator and Flux gone, deleting applications leaves their
 * HelmReleases (and their charts' resources) behind, and any HelmRelease deleted stays
 * Terminating on Flux's finalizer, which nothing drains any more.
 */
function refuseStep4AfterStep5(deps: Deps, o: PurgeOptions, plan: PurgePlan) {
  const step4 = plan.phases.find((p) => p.id === 'step4-delete-crs');
  if (!step4 || step4.done || plan.release) return;
  const consequence =
    "the operator and Flux are uninstalled already (step 5 ran before step 4): the applications' HelmReleases stay as orphans, their charts' resources run on unreconciled, and a HelmRelease deleted now stays Terminating on Flux's finalizer for good";
  if (!o.forcePreflight)
    throw new PreflightError(
      `refusing --delete-apps: ${consequence}; nothing was deleted`,
      'reinstall the operator (helm install) and run step 4 then step 5, or pass --force-preflight to delete the ApplicationInstances anyway',
    );
  warn(deps.io, `--force-preflight: ${consequence}`);
}

/** The HelmReleases of paused applications, which step 4 leaves behind. */
function heldBackRows(plan: PurgePlan, ev: PhaseEvents) {
  for (const key of plan.heldBackHelmReleases) {
    const [namespace, name] = key.split('/');
    ev.result({
      kind: 'HelmRelease',
      namespace,
      name: name ?? key,
      action: 'none',
      result: 'unchanged',
      message: 'stays: its application was paused; orphaned once Flux is uninstalled',
    });
  }
}

/**
 * helm uninstall of the revision planned, judged again inside the lock; a client dry run runs
 * nothing (the release's own record says what helm would delete). Lost the lock meanwhile: helm is
 * killed, what it did is read back as rows, and the run stops (exit 3).
 */
async function helmPhase(run: PurgeRun, lock: ActLock, helm: string | undefined) {
  const { deps, o, plan, session, ev } = run;
  if (o.dryRun === 'client') {
    for (const row of releaseRows(plan.release, 'client')) ev.result(row);
    return;
  }
  if (!plan.release || !helm) return;
  const client = session.client.withSignal(lock.signal);
  const gate = alsoJudged(
    helmGate(client, plan.release, o.forcePreflight),
    o.approved && { judge: (fresh: HelmFresh) => o.approved?.release(fresh.release) },
  );
  await actOnFresh(lock, gate, async (fresh) => {
    if (!fresh.release) return ev.log('the release is already gone');
    if (o.dryRun === 'none') {
      const kept = await keepSupersession(client, fresh.clusters, fresh.release.installedAt);
      if (kept) ev.log(`the step 3 record is kept as superseded: ${kept}`);
    }
    await helmUninstall(
      helm,
      deps.env,
      session.client,
      session.target,
      fresh.release,
      { dryRun: o.dryRun !== 'none', timeoutMs: o.timeoutMs, signal: lock.signal },
      ev,
    );
  });
  lock.check();
}

/** What one purge run shares between its phases. */
interface PurgeRun {
  deps: Deps;
  session: Session;
  o: PurgeOptions;
  plan: PurgePlan;
  ev: PhaseEvents;
}

/** Runs each phase left to do, in the procedure's order, under the lock; returns the ids of those completed. */
async function runPhases(run: PurgeRun, todo: PurgePhase[], lock: ActLock) {
  const { deps, session, o, plan, ev } = run;
  const step = stepDeps(deps, session.client.withSignal(lock.signal), lock.signal);
  const opts: PhaseOptions = {
    dryRun: o.dryRun,
    timeoutMs: o.timeoutMs,
    concurrency: o.concurrency,
    lock,
    approved: o.approved,
  };
  const helm = todo.some((p) => p.id === 'step5-helm-uninstall') ? findHelm(deps.env, o.helm) : undefined;
  const judge = {
    skipBackupCheck: o.skipBackupCheck,
    judge: () => ({
      now: deps.clock.now(),
      marginMs: o.marginMs,
      veleroNamespace: o.veleroNamespace,
      hint: hintFlags(o, o.marginMs),
    }),
  };
  const done: string[] = [];
  for (const phase of todo) {
    lock.check();
    info(deps.io, phase.title);
    if (phase.id === 'step4-delete-crs') {
      try {
        await deleteRemainingCrs(step, opts, ev, judge);
      } finally {
        // They stay whether or not the run waits until every application is gone: a run that
        // stops here (a finalizer, a failure) must name them too, for a re-run finds no
        // application left to name them by.
        heldBackRows(plan, ev);
      }
    }
    if (phase.id === 'step5-helm-uninstall') await helmPhase(run, lock, helm);
    if (phase.id === 'step5-delete-crds') await deleteCrds(step, opts, ev);
    if (phase.id === 'step5-delete-namespace') await deleteOperatorNamespace(step, opts, ev);
    lock.check();
    done.push(phase.id);
  }
  return done;
}

/** `purge --report`: only what persists on this cluster, and how to purge each. */
async function reportOnly(deps: Deps, o: PurgeOptions, session: Session): Promise<number> {
  const report = await persistsReport(session.client, { veleroNamespace: o.veleroNamespace });
  printPersists(deps.io, report, o.output);
  if (o.output === 'json' || o.output === 'yaml')
    printDocument(
      deps.io,
      o.output,
      document('PurgeResult', { context: session.target.context, persists: report }),
      [],
      [],
      () => '',
    );
  return ExitCode.ok;
}

/** What the plan leaves behind that a user would not expect: HelmReleases orphaned once Flux goes. */
function warnWhatStays(deps: Deps, o: PurgeOptions, plan: PurgePlan) {
  if (!o.deleteApps && plan.orphanedHelmReleases) {
    warn(
      deps.io,
      `--keep-apps: ${plural(plan.orphanedHelmReleases, 'HelmRelease')} stay and will be orphaned once Flux is uninstalled with the bundle; their applications keep running`,
    );
  }
  if (plan.heldBackHelmReleases.length)
    warn(
      deps.io,
      `${plural(plan.heldBackHelmReleases.length, 'HelmRelease')} of paused applications stay when those are deleted (the operator let go of them at the pause), orphaned once Flux goes: ${plan.heldBackHelmReleases.slice(0, 5).join(', ')}${plan.heldBackHelmReleases.length > 5 ? ', ...' : ''}`,
    );
}

/**
 * Steps 4 and 5: plan every phase from the cluster as it is (so a killed run goes on where it
 * stopped), refuse what is unsafe, confirm by the cluster's name, then run the phases in order.
 */
export async function runPurge(o: PurgeOptions, deps: Deps): Promise<number> {
  const session = await deps.connect(o.connection, { concurrency: o.concurrency });
  const { client, target } = session;
  await preflight(client, o);
  if (o.report) return reportOnly(deps, o, session);
  const judge = {
    now: deps.clock.now(),
    marginMs: o.marginMs,
    veleroNamespace: o.veleroNamespace,
    hint: hintFlags(o, o.marginMs),
  };
  const plan = await planPurge(client, { ...o, judge });
  const decommission = await readDecommissionRecord(client).catch(() => undefined);
  info(deps.io, `purge plan for context "${target.context}" (cluster "${target.cluster}"):`);
  printPlan(deps.io, plan);
  warnWhatStays(deps, o, plan);
  refusals(deps, o, plan);
  const todo = plan.phases.filter((p) => !p.done);
  if (todo.some((p) => p.id === 'step5-helm-uninstall')) findHelm(deps.env, o.helm);
  const fields = { context: target.context, dryRun: o.dryRun };
  if (!todo.length) {
    info(deps.io, 'nothing left to purge: every phase is done');
    printDocument(deps.io, o.output, document('PurgeResult', { ...fields, plan }), [], [], () => '');
    printPersists(
      deps.io,
      await persistsReport(client, { decommission, kept: plan.kept, veleroNamespace: o.veleroNamespace }),
      o.output,
    );
    return ExitCode.ok;
  }
  if (o.dryRun === 'none')
    await confirm(deps, target, `purge the vworkspace operator (${todo.map((p) => p.id).join(', ')})`, {
      yes: o.yes,
      typeToConfirm: target.cluster,
    });
  const results: ObjectResult[] = [];
  const ev: PhaseEvents = {
    log: (l) => info(deps.io, `  ${l}`),
    helmOutput: (c) => deps.io.errRaw(c),
    result: (row) => {
      results.push(row);
      if (row.result === 'failed') warn(deps.io, `${row.kind} ${row.name}: ${row.message}`);
    },
  };
  const run: PurgeRun = { deps, session, o, plan, ev };
  let done: string[];
  try {
    done =
      o.dryRun === 'none'
        ? await withLock(deps, session, 'PurgeResult', (lock) => runPhases(run, todo, lock))
        : await runPhases(run, todo, unlocked(deps.signal));
  } catch (err) {
    if (o.dryRun === 'none') deps.journal?.note('purge', summarize(results));
    // Whatever stopped the run, what it did is still reported, object by object.
    printResults(deps.io, o.output, 'PurgeResult', { ...fields, summary: summarize(results), plan }, results);
    throw err;
  }
  if (o.dryRun === 'none') deps.journal?.note('purge', summarize(results));
  const persists = await persistsReport(client, { decommission, kept: plan.kept, veleroNamespace: o.veleroNamespace });
  printResults(
    deps.io,
    o.output,
    'PurgeResult',
    { ...fields, summary: summarize(results), plan, completed: done, persists },
    results,
  );
  printPersists(deps.io, persists, o.output);
  const failed = summarize(results).failed;
  info(
    deps.io,
    `purge${o.dryRun === 'none' ? '' : ` (dry run: ${o.dryRun})`}: ${plural(done.length, 'phase')} ${o.dryRun === 'client' ? 'planned' : 'completed'}${failed ? `, ${plural(failed, 'object')} failed (listed above)` : ''}`,
  );
  return failed ? ExitCode.someFailed : ExitCode.ok;
}
