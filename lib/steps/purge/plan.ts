import { settle, settled } from '../../concurrency';
import { isNotFound } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { core, type KubeObject, type ResourceType } from '../../kube/resources';
import {
  deletedBy,
  type HelmReleaseInfo,
  keptBy,
  readHelmRelease,
  type ReleaseObject,
} from '../../operator/helm-release';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../../operator/names';
import { heldByOthers } from '../decommission/finalizer';
import { listClusters } from '../decommission/plan';
import { checkFinalBackups } from '../decommission/plan';
import { type JudgeOptions, judgedInstance } from '../final-backups';
import { isPaused } from '../markers';
import type { PreflightCheck } from '../preflight';

export interface PurgeOptions {
  deleteApps: boolean;
  skipBackupCheck: boolean;
  deleteCrds: boolean;
  deleteNamespace: boolean;
  forcePreflight: boolean;
  /** How final backups are judged for --delete-apps' gate. */
  judge: JudgeOptions;
}

export interface PurgePhase {
  /** step4-delete-crs | step5-helm-uninstall | step5-delete-crds | step5-delete-namespace */
  id: string;
  title: string;
  /** Objects it will delete, counted by kind. */
  counts: Record<string, number>;
  done: boolean;
  note?: string;
}

export interface PurgePlan {
  checks: PreflightCheck[];
  phases: PurgePhase[];
  release?: HelmReleaseInfo;
  /** What helm uninstall keeps (helm.sh/resource-policy: keep), as "Kind/name". */
  kept: string[];
  /** The operator's CRDs helm uninstall would delete (rendered without the keep policy, keepCrds=false). */
  helmDeletesCrds: string[];
  /**
   * Other CRDs the release renders without the keep policy (Flux's, Velero's...): helm uninstall
   * deletes them, and with each every object of its kind, counted here before anything is deleted.
   */
  otherCrds: ReleaseCrd[];
  /** The bundled controllers helm uninstall removes (Deployments of the release). */
  controllers: string[];
  /** HelmReleases that stay once Flux is uninstalled: orphans whose charts' resources nobody reconciles. */
  orphanedHelmReleases: number;
  /** HelmReleases of paused applications: deleting the applications leaves them (the operator let go of them). */
  heldBackHelmReleases: string[];
  /** Custom resources of the operator's kinds still present (before step 4 runs). */
  remainingCrs: Record<string, number>;
  crdsPresent: string[];
  namespacePresent: boolean;
}

export const crKinds = [resources.applicationInstances, resources.operations, resources.clusters];

/** A CRD helm uninstall deletes besides the operator's own, and how many objects go with it. */
export interface ReleaseCrd {
  name: string;
  kind: string;
  /** Objects of its kind in the cluster now (every namespace). */
  objects: number;
  /** The resource, for counting (and for the access it takes to count it). */
  resource?: ResourceType;
}

interface CrdSpec {
  group: string;
  scope: string;
  names: { plural: string; kind: string };
  versions: { name: string; storage?: boolean; served?: boolean }[];
}

/** The resource a CRD serves (its storage version), from the CRD as the API server has it. */
export const crdResource = (crd: KubeObject): ResourceType => {
  const spec = crd.spec as CrdSpec;
  const version = spec.versions.find((v) => v.storage) ?? spec.versions[0];
  return {
    group: spec.group,
    version: version?.name ?? 'v1',
    plural: spec.names.plural,
    kind: spec.names.kind,
    namespaced: spec.scope === 'Namespaced',
  };
};

/** The CRDs other than the operator's that helm uninstall deletes, each with its objects counted. */
export async function otherCrdsDeleted(
  client: KubeClient,
  release: HelmReleaseInfo | undefined,
  opts: { count: boolean } = { count: true },
) {
  const names = deletedBy(release)
    .filter((o) => o.kind === 'CustomResourceDefinition' && !(operatorCrds as readonly string[]).includes(o.name))
    .map((o) => o.name);
  return Promise.all(
    names.map(async (name): Promise<ReleaseCrd> => {
      const crd = await client.find(core.crds, name);
      if (!crd) return { name, kind: name.split('.')[0] ?? name, objects: 0 };
      const resource = crdResource(crd);
      return { name, kind: resource.kind, objects: opts.count ? await countAll(client, resource) : 0, resource };
    }),
  );
}

/**
 * How many objects of a kind there are, in one request: the first page of one item, metadata only,
 * and the API server's remainingItemCount (exact without a selector); paging is the fallback.
 */
export async function countAll(client: KubeClient, r: ResourceType): Promise<number> {
  try {
    const pages = client.listPages(r, { limit: 1, metadataOnly: true });
    const first = (await pages.next()).value;
    await pages.return(undefined);
    if (!first) return 0;
    const rest = first.metadata.remainingItemCount;
    if (typeof rest === 'number' || !first.metadata.continue) return first.items.length + (rest ?? 0);
    let n = 0;
    for await (const page of client.listPages(r, { limit: 500, metadataOnly: true })) n += page.items.length;
    return n;
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
}

function countByKind(objects: { kind: string }[]) {
  const counts: Record<string, number> = {};
  for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

function clusterCheck(clusters: KubeObject[]): PreflightCheck {
  const name = 'Cluster CR deleted (step 3)';
  if (!clusters.length) return { name, ok: true, detail: 'no Cluster CR left' };
  const names = clusters.map((c) => c.metadata.name).join(', ');
  // Deleted, the operator's finalizer gone (Odoo's part done), yet someone else's finalizer holds it.
  const held = clusters.map(heldByOthers);
  if (held.every((f) => f.length)) {
    const finalizers = [...new Set(held.flat())];
    return {
      name,
      ok: false,
      detail: `Cluster ${names} is being deleted and the operator's finalizer is gone, but ${finalizers.join(', ')} still holds it (set by neither the operator nor kubectl vw)`,
      fix: 'whoever set that finalizer removes it; then re-run',
    };
  }
  return {
    name,
    ok: false,
    detail: `Cluster ${names} still exists: its credential has not been revoked`,
    fix: 'kubectl vw decommission',
  };
}

const describe = (o: ReleaseObject) => `${o.kind}/${o.name}`;
/** "backups.velero.io (3 Backups)". */
export const describeCrd = (c: ReleaseCrd) => `${c.name} (${c.objects} ${c.kind}${c.objects === 1 ? '' : 's'})`;

/** The HelmReleases of paused applications: the operator let go of them, so step 4 leaves them behind. */
async function heldBack(client: KubeClient, listed: Promise<KubeObject[]>): Promise<string[]> {
  const [instances, hrs] = await Promise.all([
    listed,
    // Names are all it needs: metadata only, never every HelmRelease's values.
    client.listIfServed(resources.helmReleases, { metadataOnly: true }),
  ]);
  const present = new Set(hrs.map((h) => `${h.metadata.namespace}/${h.metadata.name}`));
  return instances
    .filter((ai: KubeObject) => isPaused(ai))
    .map((ai) => {
      const ref = (ai.status as { helmReleaseRef?: { name?: string } } | undefined)?.helmReleaseRef?.name;
      return `${ai.metadata.namespace}/${ref ?? ai.metadata.name}`;
    })
    .filter((k) => present.has(k));
}

function step4Phase(remaining: Record<string, number>): PurgePhase {
  const counts = { ApplicationInstance: remaining.ApplicationInstance ?? 0, Operation: remaining.Operation ?? 0 };
  return {
    id: 'step4-delete-crs',
    title: 'Step 4: delete remaining ApplicationInstances and Operations, and wait until they are gone',
    counts,
    done: counts.ApplicationInstance + counts.Operation === 0,
  };
}

function helmPhase(release: HelmReleaseInfo | undefined, others: ReleaseCrd[]): PurgePhase {
  const kept = keptBy(release);
  const controllers = deletedBy(release)
    .filter((o) => o.kind === 'Deployment')
    .map((o) => o.name);
  const notes = release
    ? [
        `release v${release.version} (${release.chart}), ${release.status}`,
        `removes the operator and the bundled controllers: ${controllers.join(', ') || 'none'}`,
        ...(kept.length ? [`keeps (helm.sh/resource-policy): ${kept.map(describe).join(', ')}`] : []),
        ...(others.length ? [`deletes CRDs besides the operator's: ${others.map(describeCrd).join(', ')}`] : []),
      ]
    : ['release not installed'];
  return {
    id: 'step5-helm-uninstall',
    title: `Step 5: helm uninstall ${helmReleaseName} -n ${operatorNamespace}`,
    counts: countByKind(deletedBy(release)),
    done: !release,
    note: notes.join('; '),
  };
}

function step5Phases(
  opts: PurgeOptions,
  release: HelmReleaseInfo | undefined,
  others: ReleaseCrd[],
  crds: string[],
  ns: boolean,
) {
  const phases = [helmPhase(release, others)];
  if (opts.deleteCrds) {
    phases.push({
      id: 'step5-delete-crds',
      title: "Step 5: delete the operator's CRDs (only once no custom resource of theirs is left)",
      counts: crds.length ? { CustomResourceDefinition: crds.length } : {},
      done: crds.length === 0,
    });
  }
  if (opts.deleteNamespace) {
    phases.push({
      id: 'step5-delete-namespace',
      title: `Step 5: delete namespace ${operatorNamespace} and wait for it to go (removes the bootstrap credential Secret)`,
      counts: ns ? { Namespace: 1 } : {},
      done: !ns,
    });
  }
  return phases;
}

/**
 * The reads planPurge judges by beyond the CRDs and the namespace, all started at once (the plan
 * reads 10,000 applications in the time of its slowest list, not of every list in turn). The
 * final-backup survey starts before the count that decides whether it is wanted; when it is not,
 * it is dropped, errors and all.
 */
function startPurgeReads(client: KubeClient, opts: PurgeOptions, crdsInstalled: boolean, namespacePresent: boolean) {
  const apps = opts.deleteApps && crdsInstalled;
  // Read once for both the backup check and the HelmReleases left behind: slim, page by page.
  const instances = apps ? client.listIfServed(resources.applicationInstances, { slim: judgedInstance }) : undefined;
  const backups = apps && !opts.skipBackupCheck ? settle(checkFinalBackups(client, opts.judge, instances)) : undefined;
  const held = apps && instances ? heldBack(client, instances) : Promise.resolve([]);
  instances?.catch(() => undefined); // read by held; never an unhandled rejection meanwhile
  held.catch(() => undefined);
  const release = namespacePresent
    ? readHelmRelease(client, operatorNamespace, helmReleaseName)
    : Promise.resolve(undefined);
  return {
    clusters: crdsInstalled && namespacePresent ? listClusters(client, operatorNamespace) : Promise.resolve([]),
    counts: crdsInstalled
      ? Promise.all(crKinds.map(async (r) => [r.kind, await countAll(client, r)] as const))
      : Promise.resolve([]),
    backups,
    held,
    release,
    otherCrds: release.then((r) => otherCrdsDeleted(client, r)),
    orphaned: opts.deleteApps ? Promise.resolve(0) : countAll(client, resources.helmReleases),
  };
}

/** Steps 4 and 5, read-only: what will be deleted, phase by phase, and whether it may be. */
export async function planPurge(client: KubeClient, opts: PurgeOptions): Promise<PurgePlan> {
  const [crdsPresent, namespacePresent] = await Promise.all([
    Promise.all(operatorCrds.map(async (name) => ((await client.find(core.crds, name)) ? name : undefined))).then(
      (found) => found.filter((x) => x !== undefined) as string[],
    ),
    client.find(core.namespaces, operatorNamespace).then(Boolean),
  ]);
  const crdsInstalled = crdsPresent.length === operatorCrds.length;
  const reads = startPurgeReads(client, opts, crdsInstalled, namespacePresent);
  const [clusters, counts, release, otherCrds, orphaned, held] = await Promise.all([
    reads.clusters,
    reads.counts,
    reads.release,
    reads.otherCrds,
    reads.orphaned,
    reads.held,
  ]);
  const checks = [clusterCheck(clusters as KubeObject[])];
  const remainingCrs: Record<string, number> = Object.fromEntries(counts);
  if (reads.backups && (remainingCrs.ApplicationInstance ?? 0) > 0) checks.push(await settled(reads.backups));
  const phases = [
    ...(opts.deleteApps ? [step4Phase(remainingCrs)] : []),
    ...step5Phases(opts, release, otherCrds, crdsPresent, namespacePresent),
  ];
  return {
    checks,
    phases,
    release,
    kept: keptBy(release).map(describe),
    helmDeletesCrds: deletedBy(release)
      .filter((o) => o.kind === 'CustomResourceDefinition' && (operatorCrds as readonly string[]).includes(o.name))
      .map((o) => o.name),
    otherCrds,
    controllers: deletedBy(release)
      .filter((o) => o.kind === 'Deployment')
      .map((o) => o.name),
    orphanedHelmReleases: orphaned,
    heldBackHelmReleases: held,
    remainingCrs,
    crdsPresent,
    namespacePresent,
  };
}
