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
import type { JudgeOptions } from '../final-backups';
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

/** The HelmReleases of paused applications: the operator let go of them, so step 4 leaves them behind. */
async function heldBack(client: KubeClient): Promise<string[]> {
  const [instances, hrs] = await Promise.all([
    client.listIfServed(resources.applicationInstances),
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

function helmPhase(release: HelmReleaseInfo | undefined): PurgePhase {
  const kept = keptBy(release);
  const controllers = deletedBy(release)
    .filter((o) => o.kind === 'Deployment')
    .map((o) => o.name);
  const notes = release
    ? [
        `release v${release.version} (${release.chart}), ${release.status}`,
        `removes the operator and the bundled controllers: ${controllers.join(', ') || 'none'}`,
        ...(kept.length ? [`keeps (helm.sh/resource-policy: keep): ${kept.map(describe).join(', ')}`] : []),
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

function step5Phases(opts: PurgeOptions, release: HelmReleaseInfo | undefined, crds: string[], ns: boolean) {
  const phases = [helmPhase(release)];
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

/** Steps 4 and 5, read-only: what will be deleted, phase by phase, and whether it may be. */
export async function planPurge(client: KubeClient, opts: PurgeOptions): Promise<PurgePlan> {
  const crdsPresent = (
    await Promise.all(operatorCrds.map(async (name) => ((await client.find(core.crds, name)) ? name : undefined)))
  ).filter((x) => x !== undefined) as string[];
  const crdsInstalled = crdsPresent.length === operatorCrds.length;
  const namespacePresent = Boolean(await client.find(core.namespaces, operatorNamespace));
  const clusters = crdsInstalled && namespacePresent ? await listClusters(client, operatorNamespace) : [];
  const checks = [clusterCheck(clusters as KubeObject[])];
  const remainingCrs: Record<string, number> = {};
  if (crdsInstalled) for (const r of crKinds) remainingCrs[r.kind] = await countAll(client, r);
  if (opts.deleteApps && !opts.skipBackupCheck && crdsInstalled && (remainingCrs.ApplicationInstance ?? 0) > 0)
    checks.push(await checkFinalBackups(client, opts.judge));
  const release = namespacePresent ? await readHelmRelease(client, operatorNamespace, helmReleaseName) : undefined;
  const phases = [
    ...(opts.deleteApps ? [step4Phase(remainingCrs)] : []),
    ...step5Phases(opts, release, crdsPresent, namespacePresent),
  ];
  return {
    checks,
    phases,
    release,
    kept: keptBy(release).map(describe),
    helmDeletesCrds: deletedBy(release)
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => o.name),
    controllers: deletedBy(release)
      .filter((o) => o.kind === 'Deployment')
      .map((o) => o.name),
    orphanedHelmReleases: opts.deleteApps ? 0 : await countAll(client, resources.helmReleases),
    heldBackHelmReleases: opts.deleteApps && crdsInstalled ? await heldBack(client) : [],
    remainingCrs,
    crdsPresent,
    namespacePresent,
  };
}
