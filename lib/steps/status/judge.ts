import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import type { HintFlags } from '../hints';
import { operatorNamespace, pausedByAnnotation, suspendedByAnnotation } from '../../operator/names';
import { type FinalBackupState, finalBackupCounts } from '../../operator/final-backup';
import { findCondition } from '../../operator/schemas';
import {
  type AppFinalBackup,
  appReason,
  countStates,
  describeCounts,
  fixFor,
  type JudgeOptions,
  judgeApps,
} from '../final-backups';
import { hasFinalizer, hasObserver, heldByOthers, releasedToObserver } from '../decommission/finalizer';
import { recordStanding } from '../decommission/record';
import { isPaused } from '../pause';
import { plural } from '../../plural';
import { type Observed, observeCluster } from './observe';

export type StepState = 'not started' | 'in progress' | 'done' | 'skipped' | 'blocked';

export interface StepStatus {
  step: number;
  name: string;
  state: StepState;
  evidence: string[];
  /** The command that moves this step on. */
  next?: string;
}

/** The newest run in the journal, as status names it; state "unknown" when the journal cannot be read. */
export interface LastRun {
  command?: string;
  state: string;
  startedAt?: string;
  finishedAt?: string;
  user?: string;
  host?: string;
  planDigest?: string;
  message?: string;
}

export interface ProcedureStatus {
  context: string;
  steps: StepStatus[];
  next?: string;
  reinstall: string[];
  /** Set by kubectl vw status: the last run recorded (null: none yet). */
  lastRun?: LastRun | null;
  facts: {
    crds: string[];
    instances: number;
    paused: number;
    pausedByTool: number;
    helmReleases: number;
    helmReleasesSuspended: number;
    /** Applications by where their final backup stands. */
    finalBackups: Partial<Record<FinalBackupState, number>>;
    cluster: {
      name: string;
      clusterID?: string;
      deleting: boolean;
      finalizer: boolean;
      decommissioning?: string;
    } | null;
    forcedDecommission: { clusterID: string; forcedAt: string } | null;
    remainingCrs: { applicationInstances: number; operations: number; clusters: number };
    helmRelease: string | null;
    namespace: boolean;
  };
}

type Facts = ProcedureStatus['facts'];
const suspendedOf = (hrs: KubeObject[]) =>
  hrs.filter((h) => (h.spec as { suspend?: boolean } | undefined)?.suspend === true);

function factsOf(o: Observed, apps: AppFinalBackup[]): Facts {
  const paused = o.instances.filter(isPaused);
  const cluster = o.cluster;
  const decommissioning = cluster ? findCondition(cluster.status?.conditions, 'Decommissioning') : undefined;
  const record = standingRecord(o).record;
  const forced = record?.outcome === 'forced' ? record : undefined;
  return {
    crds: o.crds,
    instances: o.instances.length,
    paused: paused.length,
    pausedByTool: paused.filter((i) => i.metadata.annotations?.[pausedByAnnotation]).length,
    helmReleases: o.helmReleases.length,
    helmReleasesSuspended: suspendedOf(o.helmReleases).length,
    finalBackups: countStates(apps),
    cluster: cluster
      ? {
          name: cluster.metadata.name,
          clusterID: cluster.status?.clusterID,
          deleting: Boolean(cluster.metadata.deletionTimestamp),
          finalizer: hasFinalizer(cluster as KubeObject),
          decommissioning: decommissioning
            ? `${decommissioning.status}${decommissioning.reason ? `/${decommissioning.reason}` : ''}${decommissioning.message ? `: ${decommissioning.message}` : ''}`
            : undefined,
        }
      : null,
    forcedDecommission: forced ? { clusterID: forced.clusterID, forcedAt: forced.forcedAt ?? '' } : null,
    remainingCrs: {
      applicationInstances: o.instances.length,
      operations: o.operations.length,
      clusters: o.clusters.length,
    },
    helmRelease: o.release ? `${o.release.name} v${o.release.version} (${o.release.status})` : null,
    namespace: o.namespace,
  };
}

function step1(o: Observed, f: Facts): StepStatus {
  const suspended = suspendedOf(o.helmReleases);
  const evidence = [
    `${f.paused}/${plural(f.instances, 'ApplicationInstance')} paused (${f.pausedByTool} by kubectl vw)`,
    `${suspended.length}/${plural(f.helmReleases, 'HelmRelease')} suspended (${suspended.filter((h) => h.metadata.annotations?.[suspendedByAnnotation]).length} by kubectl vw)`,
  ];
  let state: StepState;
  if (!o.crdsInstalled || f.instances === 0 || f.paused === f.instances) state = 'done';
  else if (f.paused > 0) state = 'in progress';
  else state = 'not started';
  if (!o.crdsInstalled) evidence.unshift('operator CRDs removed');
  return {
    step: 1,
    name: 'pause reconciliation',
    state,
    evidence,
    next: state === 'done' ? undefined : 'kubectl vw pause --all',
  };
}

function step2State(o: Observed, apps: AppFinalBackup[]): StepState {
  const counts = countStates(apps);
  const short = apps.filter((a) => !finalBackupCounts(a.verdict.state));
  if (!o.crdsInstalled || !apps.length || !short.length) return 'done';
  // Once the operator and Velero are uninstalled, no final backup can be taken any more.
  if (!o.release) return 'skipped';
  if (counts.failed || counts['velero-failed'] || short.some((a) => a.conflict && a.verdict.state === 'missing'))
    return 'blocked';
  if (short.length === apps.length && short.every((a) => a.verdict.state === 'missing')) return 'not started';
  return 'in progress';
}

function step2(o: Observed, apps: AppFinalBackup[], hint?: HintFlags): StepStatus {
  const short = apps.filter((a) => !finalBackupCounts(a.verdict.state));
  const state = step2State(o, apps);
  const evidence = [`final backups: ${describeCounts(countStates(apps)) || 'no applications'}`];
  if (short.length && state !== 'done')
    evidence.push(`not counting: ${short.slice(0, 3).map(appReason).join(', ')}${short.length > 3 ? ', ...' : ''}`);
  if (state === 'skipped') evidence.push('the operator is uninstalled: no final backup can be taken any more');
  const warned = apps.filter((a) => a.warning);
  if (warned.length)
    evidence.push(
      `warning: ${plural(warned.length, 'final backup')} on an Unavailable BackupStorageLocation: ${warned
        .slice(0, 3)
        .map((a) => `${a.namespace}/${a.application} (${a.warning})`)
        .join(', ')}${warned.length > 3 ? ', ...' : ''}`,
    );
  if (!o.crdsInstalled || !apps.length)
    evidence.unshift(o.crdsInstalled ? 'no ApplicationInstances left' : 'operator CRDs removed');
  const next = state === 'done' || state === 'skipped' ? undefined : fixFor(short, hint);
  return { step: 2, name: 'final backups', state, evidence, next };
}

/** The step 3 record, if it speaks for this installation's Cluster (by uid, not superseded by a reinstall). */
const standingRecord = (o: Observed) => recordStanding(o.record, o.clusters, o.release?.installedAt);

/** What the step 3 record says about the credential, for the evidence. */
function recordEvidence(o: Observed): string[] {
  const { record: r, superseded } = standingRecord(o);
  if (superseded) return [o.cluster ? superseded : `${superseded}; whether Odoo revoked its credential is unknown`];
  if (!r) return o.cluster ? [] : ['no kubectl vw record of step 3: whether Odoo revoked the credential is unknown'];
  switch (r.outcome) {
    case 'forced':
      return [
        `FORCED at ${r.forcedAt}: credential of cluster ID ${r.clusterID} NOT revoked in Odoo; revoke it by hand`,
      ];
    case 'unconfirmed':
      return [
        `revocation not confirmed for cluster ID ${r.clusterID}: ${r.evidence ?? 'no evidence'}; revoke it by hand in Odoo's Cluster Registry`,
      ];
    case 'revoked':
      return [`Odoo revoked the credential of cluster ID ${r.clusterID}: ${r.evidence ?? ''}`];
    default:
      return o.cluster
        ? []
        : [`Cluster ${r.cluster} deleted; nobody saw its finalizer drain yet: run kubectl vw decommission`];
  }
}

function step3(o: Observed, f: Facts): StepStatus {
  const cluster = o.cluster;
  const evidence: string[] = [];
  let state: StepState;
  if (cluster) {
    const held = releasedToObserver(cluster as KubeObject);
    evidence.push(
      `Cluster ${cluster.metadata.name} (ID ${cluster.status?.clusterID ?? '?'}) ${cluster.metadata.deletionTimestamp ? `being deleted since ${cluster.metadata.deletionTimestamp}` : 'present'}, finalizer ${f.cluster?.finalizer ? 'present' : 'gone'}`,
    );
    if (held)
      evidence.push("the operator's finalizer drained; kubectl vw's observer finalizer holds it until recorded");
    if (!cluster.metadata.deletionTimestamp && hasObserver(cluster as KubeObject))
      evidence.push(
        "kubectl vw's observer finalizer is on it, left by a decommission interrupted before its delete: the next kubectl vw decommission uses it (or: kubectl patch to remove it)",
      );
    const foreign = heldByOthers(cluster as KubeObject);
    if (foreign.length)
      evidence.push(
        `the operator let go, but ${foreign.join(', ')} holds it (set by neither the operator nor kubectl vw): whoever set it removes it`,
      );
    const d = findCondition(cluster.status?.conditions, 'Decommissioning');
    if (d) evidence.push(`Decommissioning=${f.cluster?.decommissioning}`);
    if (!cluster.metadata.deletionTimestamp) state = 'not started';
    else if (foreign.length) state = 'blocked';
    else if (d?.status === 'False' && !held) state = 'blocked';
    else state = 'in progress';
  } else {
    state = 'done';
    evidence.push(o.crdsInstalled || o.namespace ? 'no Cluster CR left' : 'operator namespace and CRDs removed');
  }
  evidence.push(...recordEvidence(o));
  const next =
    state === 'done'
      ? standingRecord(o).record?.outcome === 'in-progress'
        ? 'kubectl vw decommission'
        : undefined
      : state === 'blocked'
        ? `kubectl vw decommission ${cluster?.metadata.name ?? ''} -n ${operatorNamespace}`
        : 'kubectl vw decommission';
  if (state === 'blocked' && cluster && heldByOthers(cluster as KubeObject).length) {
    const ref = `kubectl get clusters.ops.vworkspace.io ${cluster.metadata.name} -n ${operatorNamespace} -o jsonpath='{.metadata.finalizers}'`;
    return { step: 3, name: 'delete the Cluster CR', state, evidence, next: ref };
  }
  if (state === 'blocked')
    evidence.push(
      `the finalizer waits for Odoo: restore connectivity and run the next command, or, only if Odoo is gone for good: kubectl vw decommission ${cluster?.metadata.name ?? ''} -n ${operatorNamespace} --force`,
    );
  return { step: 3, name: 'delete the Cluster CR', state, evidence, next };
}

function step4(o: Observed, step5Done: boolean): StepStatus {
  const remaining = o.instances.length + o.operations.length;
  const evidence = [
    o.crdsInstalled
      ? `${plural(o.instances.length, 'ApplicationInstance')}, ${plural(o.operations.length, 'Operation')} remain`
      : 'operator CRDs removed',
  ];
  // Deleted but still there: a finalizer holds them (step 4 was started and did not finish).
  const held = [...o.instances, ...o.operations].filter((x) => x.metadata.deletionTimestamp);
  if (held.length) {
    const finalizers = [...new Set(held.flatMap((x) => x.metadata.finalizers ?? []))];
    const names = held.slice(0, 3).map((x) => `${x.metadata.namespace}/${x.metadata.name}`);
    evidence.push(
      `${held.length} being deleted, held by finalizers ${finalizers.join(', ') || '(none left)'}: ${names.join(', ')}${held.length > 3 ? ', ...' : ''}`,
    );
  }
  let state: StepState;
  if (remaining === 0) state = 'done';
  else if (held.length) state = 'in progress';
  else if (step5Done) state = 'skipped';
  else state = 'not started';
  if (state === 'not started') evidence.push('optional: skip it to keep the applications running');
  if (state === 'in progress')
    evidence.push(
      'see why they are held: kubectl get applicationinstances,operations -A -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers',
    );
  const next = state === 'not started' || state === 'in progress' ? 'kubectl vw purge --delete-apps' : undefined;
  return { step: 4, name: 'delete remaining CRs (optional)', state, evidence, next };
}

function step5(o: Observed, f: Facts): StepStatus {
  const evidence = [
    o.release ? `helm release ${f.helmRelease}` : 'helm release removed',
    `CRDs: ${o.crds.length ? o.crds.join(', ') : 'none left'}`,
    `namespace ${operatorNamespace}: ${o.namespace ? 'present' : 'gone'}`,
  ];
  const state: StepState = o.release ? 'not started' : 'done';
  return { step: 5, name: 'helm uninstall', state, evidence, next: o.release ? 'kubectl vw purge' : undefined };
}

/** What a reinstall on this cluster needs: said only once the operator is uninstalled. */
function reinstallNotes(o: Observed, f: Facts): string[] {
  const notes: string[] = [];
  if (o.release) return notes;
  if (o.cluster) notes.push(`a Cluster CR remains (${o.cluster.metadata.name}): delete it before reinstalling`);
  if (f.paused)
    notes.push(
      `${plural(f.paused, 'ApplicationInstance')} paused: after reinstalling, resume with: kubectl vw resume --all`,
    );
  if (f.helmReleasesSuspended)
    notes.push(
      `${plural(f.helmReleasesSuspended, 'HelmRelease')} suspended: kubectl vw resume un-suspends those kubectl vw suspended`,
    );
  return notes;
}

/** Judges the five steps from what was observed, with the evidence for each verdict. */
export function judge(o: Observed, context: string, opts: JudgeOptions): ProcedureStatus {
  const apps = o.crdsInstalled ? judgeApps(o.instances, o.operations, o.velero, opts) : [];
  const f = factsOf(o, apps);
  const steps = [step1(o, f), step2(o, apps, opts.hint), step3(o, f), step4(o, !o.release), step5(o, f)];
  const next =
    steps.find(
      (s) => s.next && s.state !== 'done' && s.state !== 'skipped' && !(s.step === 4 && s.state === 'not started'),
    )?.next ?? steps.find((s) => s.next)?.next;
  return { context, steps, next, reinstall: reinstallNotes(o, f), facts: f };
}

/** Where the cluster stands in the five steps, read-only, with the evidence for each verdict. */
export async function procedureStatus(client: KubeClient, opts: StatusOptions): Promise<ProcedureStatus> {
  return judge(await observeCluster(client, opts), client.target.context, opts);
}

/** How status judges: as the gates do, and where Velero runs (--velero-namespace). */
export interface StatusOptions extends JudgeOptions {
  veleroNamespace?: string;
}
