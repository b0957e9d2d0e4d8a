import type { KubeClient } from '../../kube/client';
import { core, type KubeObject, type ResourceType } from '../../kube/resources';
import { readHelmRelease, readHelmReleaseHead } from '../../operator/helm-release';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../../operator/names';
import type { Gate } from '../act';
import { finalBackupCheck, type JudgeOptions, surveyFinalBackups } from '../final-backups';
import type { DryRunMode } from '../results';
import { countAll, crKinds } from './plan';

/** How step 4 judges the applications' final backups at the moment of its deletes. */
export interface Step4Judge {
  skipBackupCheck: boolean;
  judge: () => JudgeOptions;
}

/**
 * Step 4's gate for one kind: every object of it, read now; for ApplicationInstances, every one's
 * final backup judged on that read (unless --skip-backup-check).
 */
export function step4Gate(client: KubeClient, r: ResourceType, o: Step4Judge): Gate<KubeObject[]> {
  let check: ReturnType<typeof finalBackupCheck> | undefined;
  return {
    what: `delete the ${r.kind}s (step 4)`,
    read: async () => {
      const { items } = await client.list(r);
      check =
        r === resources.applicationInstances && !o.skipBackupCheck && items.length
          ? finalBackupCheck(await surveyFinalBackups(client, { ...o.judge(), instances: items }))
          : undefined;
      return items;
    },
    judge: () =>
      check && !check.ok
        ? {
            reason: `since the plan, ${check.detail}; nothing was deleted`,
            hint: `${check.fix ?? ''}; or pass --skip-backup-check`,
          }
        : undefined,
  };
}

/** The operator's CRDs as they are now, with how many objects each kind still has. */
export function crdGate(client: KubeClient, dryRun: DryRunMode): Gate<KubeObject[]> {
  const remaining: string[] = [];
  return {
    what: "delete the operator's CRDs",
    read: async () => {
      remaining.length = 0;
      // A dry run of step 4 left the objects in place; the plan already checked they would go first.
      for (const r of dryRun === 'none' ? crKinds : []) {
        const n = await countAll(client, r);
        if (n) remaining.push(`${n} ${r.kind}${n > 1 ? 's' : ''}`);
      }
      const crds = await Promise.all(operatorCrds.map((name) => client.find(core.crds, name)));
      if (dryRun === 'client') return operatorCrds.map((name) => ({ metadata: { name } }));
      return crds.filter((c): c is KubeObject => Boolean(c));
    },
    judge: () =>
      remaining.length
        ? {
            reason: `${remaining.join(', ')} still exist, and deleting a CRD deletes every object of its kind`,
            hint: 'remove them first with --delete-apps (step 4), or keep the CRDs',
          }
        : undefined,
  };
}

/**
 * The operator's namespace as it is now: it goes only once no Cluster and no release is left in it.
 * A dry run judges nothing here: the phases before it (helm uninstall) did not really run.
 */
export function namespaceGate(client: KubeClient, dryRun: DryRunMode): Gate<KubeObject | undefined> {
  let left: string | undefined;
  return {
    what: `delete namespace ${operatorNamespace}`,
    read: async () => {
      const ns = await client.find(core.namespaces, operatorNamespace);
      const [clusters, release] =
        ns && dryRun === 'none'
          ? await Promise.all([
              client.listIfServed(resources.clusters, { namespace: operatorNamespace }),
              readHelmReleaseHead(client, operatorNamespace, helmReleaseName),
            ])
          : [[], undefined];
      left = clusters.length
        ? `Cluster ${clusters.map((c) => c.metadata.name).join(', ')} is there (step 3 not done)`
        : release
          ? `helm release ${release.name} v${release.version} is there (${release.status})`
          : undefined;
      return ns;
    },
    judge: () => (left ? { reason: `${left}; the namespace was not deleted`, hint: 'kubectl vw status' } : undefined),
  };
}

/** What helm uninstall's gate judges: the release as it is now, and any Cluster left. */
export interface HelmFresh {
  release?: Awaited<ReturnType<typeof readHelmRelease>>;
  clusters: KubeObject[];
}

/**
 * helm uninstall's gate: the very revision that was planned and confirmed is still the release's
 * latest (a newer one renders other objects), and no Cluster is back (step 3 done), unless
 * --force-preflight said to go on regardless.
 */
export function helmGate(
  client: KubeClient,
  planned: { version: number; storageUid?: string },
  forcePreflight: boolean,
): Gate<HelmFresh> {
  return {
    what: `helm uninstall ${helmReleaseName}`,
    read: async () => {
      const [release, clusters] = await Promise.all([
        readHelmRelease(client, operatorNamespace, helmReleaseName),
        client.listIfServed(resources.clusters, { namespace: operatorNamespace }),
      ]);
      return { release, clusters };
    },
    judge: ({ release, clusters }) => {
      if (clusters.length && !forcePreflight)
        return {
          reason: `Cluster ${clusters.map((c) => c.metadata.name).join(', ')} exists since the plan: its credential has not been revoked; nothing was uninstalled`,
          hint: 'kubectl vw decommission',
        };
      if (release && (release.version !== planned.version || release.storageUid !== planned.storageUid))
        return {
          reason: `the release changed since the plan (planned revision ${planned.version}, now ${release.version}, ${release.status}); nothing was uninstalled`,
          hint: 'run kubectl vw purge again to plan the release as it is now',
        };
      return undefined;
    },
  };
}
