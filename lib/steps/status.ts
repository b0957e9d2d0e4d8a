import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';
import {
  finalBackupName,
  helmReleaseName,
  operatorCrds,
  operatorNamespace,
  resources,
  pausedByAnnotation,
  suspendedByAnnotation,
} from '../operator/names';
import { type FinalBackupStanding, finalBackupStanding } from '../operator/final-backup';
import { readHelmRelease } from '../operator/helm-release';
import { clusterSchema, findCondition, operationSchema, parseObject } from '../operator/schemas';
import { hasFinalizer, readDecommissionRecord } from './decommission';
import { isPaused } from './pause';

export type StepState = 'not started' | 'in progress' | 'done' | 'skipped' | 'blocked';

export interface StepStatus {
  step: number;
  name: string;
  state: StepState;
  evidence: string[];
  /** The command that moves this step on. */
  next?: string;
}

export interface ProcedureStatus {
  context: string;
  steps: StepStatus[];
  next?: string;
  reinstall: string[];
  facts: {
    crds: string[];
    instances: number;
    paused: number;
    pausedByTool: number;
    helmReleases: number;
    helmReleasesSuspended: number;
    finalBackups: { succeeded: number; notSupported: number; failed: number; running: number; missing: number };
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

type BackupCounts = { succeeded: number; notSupported: number; failed: number; running: number; missing: number };
const standingCounter: Record<FinalBackupStanding, keyof BackupCounts> = {
  succeeded: 'succeeded',
  'no-backup-capability': 'notSupported',
  failed: 'failed',
  running: 'running',
  missing: 'missing',
};

/** Where the cluster stands in the five steps, read-only, with the evidence for each verdict. */
export async function procedureStatus(client: KubeClient): Promise<ProcedureStatus> {
  const crds = (await Promise.all(operatorCrds.map(async (n) => ((await client.find(core.crds, n)) ? n : '')))).filter(
    Boolean,
  );
  const crdsInstalled = crds.length === operatorCrds.length;
  const namespace = Boolean(await client.find(core.namespaces, operatorNamespace));
  const [instances, operations, clustersRaw, helmReleases] = crdsInstalled
    ? await Promise.all([
        client.listIfServed(resources.applicationInstances),
        client.listIfServed(resources.operations),
        namespace ? client.listIfServed(resources.clusters, { namespace: operatorNamespace }) : Promise.resolve([]),
        client.listIfServed(resources.helmReleases),
      ])
    : [[], [], [], await client.listIfServed(resources.helmReleases)];
  const release = namespace ? await readHelmRelease(client, operatorNamespace, helmReleaseName) : undefined;
  const record = namespace ? await readDecommissionRecord(client, operatorNamespace).catch(() => undefined) : undefined;
  const forced =
    record?.outcome === 'forced' ? { clusterID: record.clusterID, forcedAt: record.forcedAt ?? '' } : undefined;

  const paused = instances.filter(isPaused);
  const pausedByTool = paused.filter((i) => i.metadata.annotations?.[pausedByAnnotation]);
  const suspended = helmReleases.filter((h) => (h.spec as { suspend?: boolean } | undefined)?.suspend === true);

  const opsByKey = new Map(operations.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]));
  const fb: BackupCounts = { succeeded: 0, notSupported: 0, failed: 0, running: 0, missing: 0 };
  for (const ai of instances) {
    const raw = opsByKey.get(`${ai.metadata.namespace}/${finalBackupName(ai.metadata.name)}`);
    const op = raw ? parseObject(operationSchema, raw) : undefined;
    // An Operation that does not parse is counted as not finished, never guessed done.
    const standing = raw && !op?.ok ? 'running' : finalBackupStanding(op?.ok ? op.value : undefined);
    fb[standingCounter[standing]]++;
  }

  const parsedCluster = clustersRaw.map((c) => parseObject(clusterSchema, c)).find((p) => p.ok);
  const cluster = parsedCluster?.ok ? parsedCluster.value : undefined;
  const decommissioning = cluster ? findCondition(cluster.status?.conditions, 'Decommissioning') : undefined;
  const facts: ProcedureStatus['facts'] = {
    crds,
    instances: instances.length,
    paused: paused.length,
    pausedByTool: pausedByTool.length,
    helmReleases: helmReleases.length,
    helmReleasesSuspended: suspended.length,
    finalBackups: fb,
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
    forcedDecommission: forced ?? null,
    remainingCrs: {
      applicationInstances: instances.length,
      operations: operations.length,
      clusters: clustersRaw.length,
    },
    helmRelease: release ? `${release.name} v${release.version} (${release.status})` : null,
    namespace,
  };

  const step3Done = !cluster;
  const step5Done = !release;
  const steps: StepStatus[] = [];

  // Step 1
  {
    const evidence = [
      `${paused.length}/${instances.length} ApplicationInstances paused (${pausedByTool.length} by kubectl vw)`,
      `${suspended.length}/${helmReleases.length} HelmReleases suspended (${suspended.filter((h) => h.metadata.annotations?.[suspendedByAnnotation]).length} by kubectl vw)`,
    ];
    let state: StepState;
    if (!crdsInstalled) state = 'done';
    else if (instances.length === 0 || paused.length === instances.length) state = 'done';
    else if (paused.length > 0) state = 'in progress';
    else state = 'not started';
    if (!crdsInstalled) evidence.unshift('operator CRDs removed');
    steps.push({
      step: 1,
      name: 'pause reconciliation',
      state,
      evidence,
      next: state === 'done' ? undefined : 'kubectl vw pause --all',
    });
  }
  // Step 2
  {
    const evidence = [
      `final backups: ${fb.succeeded} Succeeded, ${fb.notSupported} without backup capability, ${fb.failed} Failed, ${fb.running} running, ${fb.missing} missing`,
    ];
    let state: StepState;
    if (!crdsInstalled || instances.length === 0) state = 'done';
    else if (fb.failed > 0) state = 'blocked';
    else if (fb.missing === 0 && fb.running === 0) state = 'done';
    else if (fb.running > 0 || fb.succeeded + fb.notSupported > 0)
      state = fb.missing && step3Done ? 'skipped' : 'in progress';
    else state = step3Done ? 'skipped' : 'not started';
    if (!crdsInstalled || instances.length === 0)
      evidence.unshift(crdsInstalled ? 'no ApplicationInstances left' : 'operator CRDs removed');
    steps.push({
      step: 2,
      name: 'final backups',
      state,
      evidence,
      next:
        state === 'blocked'
          ? 'kubectl vw backup --all --ttl 8760h --retry-failed'
          : state === 'done' || state === 'skipped'
            ? undefined
            : 'kubectl vw backup --all --ttl 8760h',
    });
  }
  // Step 3
  {
    const evidence: string[] = [];
    let state: StepState;
    if (cluster) {
      evidence.push(
        `Cluster ${cluster.metadata.name} (ID ${cluster.status?.clusterID ?? '?'}) ${cluster.metadata.deletionTimestamp ? `being deleted since ${cluster.metadata.deletionTimestamp}` : 'present'}, finalizer ${hasFinalizer(cluster as KubeObject) ? 'present' : 'gone'}`,
      );
      if (decommissioning) evidence.push(`Decommissioning=${facts.cluster?.decommissioning}`);
      if (!cluster.metadata.deletionTimestamp) state = 'not started';
      else if (decommissioning?.status === 'False') state = 'blocked';
      else state = 'in progress';
    } else {
      state = 'done';
      evidence.push(crdsInstalled || namespace ? 'no Cluster CR left' : 'operator namespace and CRDs removed');
      if (forced)
        evidence.push(
          `FORCED at ${forced.forcedAt}: credential of cluster ID ${forced.clusterID} NOT revoked in Odoo; revoke it by hand`,
        );
    }
    steps.push({
      step: 3,
      name: 'delete the Cluster CR',
      state,
      evidence,
      next:
        state === 'done'
          ? undefined
          : state === 'blocked'
            ? `restore Odoo connectivity, or: kubectl vw decommission ${cluster?.metadata.name ?? ''} --force`
            : 'kubectl vw decommission',
    });
  }
  // Step 4
  {
    const remaining = instances.length + operations.length;
    const evidence = [
      crdsInstalled
        ? `${instances.length} ApplicationInstances, ${operations.length} Operations remain`
        : 'operator CRDs removed',
    ];
    // Deleted but still there: a finalizer holds them (step 4 was started and did not finish).
    const held = [...instances, ...operations].filter((o) => o.metadata.deletionTimestamp);
    if (held.length) {
      const finalizers = [...new Set(held.flatMap((o) => o.metadata.finalizers ?? []))];
      evidence.push(
        `${held.length} being deleted, held by finalizers ${finalizers.join(', ') || '(none left)'}: ${held
          .slice(0, 3)
          .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
          .join(', ')}${held.length > 3 ? ', ...' : ''}`,
      );
    }
    let state: StepState;
    if (remaining === 0) state = 'done';
    else if (held.length) state = 'in progress';
    else if (step5Done) state = 'skipped';
    else state = 'not started';
    steps.push({
      step: 4,
      name: 'delete remaining CRs (optional)',
      state,
      evidence,
      next:
        state === 'not started'
          ? 'kubectl vw purge --delete-apps   (or skip it to keep the apps running)'
          : state === 'in progress'
            ? 'kubectl vw purge --delete-apps   (waits for them; see why they are held: kubectl get applicationinstances,operations -A -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers)'
            : undefined,
    });
  }
  // Step 5
  {
    const evidence = [
      release ? `helm release ${facts.helmRelease}` : 'helm release removed',
      `CRDs: ${crds.length ? crds.join(', ') : 'none left'}`,
      `namespace ${operatorNamespace}: ${namespace ? 'present' : 'gone'}`,
    ];
    const state: StepState = release ? 'not started' : 'done';
    steps.push({ step: 5, name: 'helm uninstall', state, evidence, next: release ? 'kubectl vw purge' : undefined });
  }
  const next =
    steps.find(
      (s) => s.next && s.state !== 'done' && s.state !== 'skipped' && !(s.step === 4 && s.state === 'not started'),
    )?.next ?? steps.find((s) => s.next)?.next;
  const reinstall: string[] = [];
  if (cluster) reinstall.push(`a Cluster CR remains (${cluster.metadata.name}): delete it before reinstalling`);
  if (paused.length)
    reinstall.push(
      `${paused.length} ApplicationInstances paused: after reinstalling, resume with: kubectl vw resume --all`,
    );
  if (suspended.length)
    reinstall.push(
      `${suspended.length} HelmReleases suspended: kubectl vw resume un-suspends those kubectl vw suspended`,
    );
  return { context: client.target.context, steps, next, reinstall, facts };
}
