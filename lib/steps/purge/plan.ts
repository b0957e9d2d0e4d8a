import { isNotFound } from '../../kube/api-error';
import type { KubeClient } from '../../kube/client';
import { core, type ResourceType } from '../../kube/resources';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../../operator/names';
import { type HelmReleaseInfo, readHelmRelease } from '../../operator/helm-release';
import { checkFinalBackups, listClusters } from '../decommission/plan';
import type { JudgeOptions } from '../final-backups';
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
  orphanedHelmReleases: number;
  /** Custom resources of the operator's kinds still present (before step 4 runs). */
  remainingCrs: Record<string, number>;
  crdsPresent: string[];
  namespacePresent: boolean;
}

export const crKinds = [resources.applicationInstances, resources.operations, resources.clusters];

export async function countAll(client: KubeClient, r: ResourceType): Promise<number> {
  try {
    let n = 0;
    for await (const page of client.listPages(r, { limit: 500 })) n += page.items.length;
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

/** Steps 4 and 5, read-only: what will be deleted, phase by phase, and whether it may be. */
export async function planPurge(client: KubeClient, opts: PurgeOptions): Promise<PurgePlan> {
  const checks: PreflightCheck[] = [];
  const crdsPresent = (
    await Promise.all(operatorCrds.map(async (name) => ((await client.find(core.crds, name)) ? name : undefined)))
  ).filter((x) => x !== undefined) as string[];
  const crdsInstalled = crdsPresent.length === operatorCrds.length;
  const namespacePresent = Boolean(await client.find(core.namespaces, operatorNamespace));

  const clusters = crdsInstalled && namespacePresent ? await listClusters(client, operatorNamespace) : [];
  checks.push(
    clusters.length
      ? {
          name: 'Cluster CR deleted (step 3)',
          ok: false,
          detail: `Cluster ${clusters.map((c) => c.metadata.name).join(', ')} still exists: its credential has not been revoked`,
          fix: 'kubectl vw decommission',
        }
      : { name: 'Cluster CR deleted (step 3)', ok: true, detail: 'no Cluster CR left' },
  );

  const remainingCrs: Record<string, number> = {};
  if (crdsInstalled) for (const r of crKinds) remainingCrs[r.kind] = await countAll(client, r);
  if (opts.deleteApps && !opts.skipBackupCheck && crdsInstalled && (remainingCrs.ApplicationInstance ?? 0) > 0) {
    checks.push(await checkFinalBackups(client, opts.judge));
  }

  const release = namespacePresent ? await readHelmRelease(client, operatorNamespace, helmReleaseName) : undefined;
  const orphanedHelmReleases = opts.deleteApps ? 0 : await countAll(client, resources.helmReleases);

  const phases: PurgePhase[] = [];
  if (opts.deleteApps) {
    const counts = {
      ApplicationInstance: remainingCrs.ApplicationInstance ?? 0,
      Operation: remainingCrs.Operation ?? 0,
    };
    phases.push({
      id: 'step4-delete-crs',
      title: 'Step 4: delete remaining ApplicationInstances and Operations, and wait until they are gone',
      counts,
      done: counts.ApplicationInstance + counts.Operation === 0,
    });
  }
  phases.push({
    id: 'step5-helm-uninstall',
    title: `Step 5: helm uninstall ${helmReleaseName} -n ${operatorNamespace}`,
    counts: release ? countByKind(release.objects) : {},
    done: !release,
    note: release ? `release v${release.version} (${release.chart}), ${release.status}` : 'release not installed',
  });
  if (opts.deleteCrds) {
    phases.push({
      id: 'step5-delete-crds',
      title: "Step 5: delete the operator's CRDs (only once no custom resource of theirs is left)",
      counts: crdsPresent.length ? { CustomResourceDefinition: crdsPresent.length } : {},
      done: crdsPresent.length === 0,
    });
  }
  if (opts.deleteNamespace) {
    phases.push({
      id: 'step5-delete-namespace',
      title: `Step 5: delete namespace ${operatorNamespace} and wait for it to go (removes the bootstrap credential Secret)`,
      counts: namespacePresent ? { Namespace: 1 } : {},
      done: !namespacePresent,
    });
  }
  return { checks, phases, release, orphanedHelmReleases, remainingCrs, crdsPresent, namespacePresent };
}
