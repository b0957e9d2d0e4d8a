import { helmReleaseName, kinds, operatorNamespace } from '../support/contract';
import { isNotFound, type Kube, type KubeObject } from '../support/kube';
import { core, upstream } from '../support/kinds';

// The cluster as the checker reads it for itself, to hold kubectl vw's own reports against.

export interface ClusterFacts {
  crds: boolean;
  apps: KubeObject[];
  operations: KubeObject[];
  clusters: KubeObject[];
  /** helm's release records (Secrets owner=helm) of the operator's release. */
  release: boolean;
  /** When the release's revision 1 was written, if it is still stored: the installation's time. */
  installedAt?: string;
  helmReleases: KubeObject[];
  veleroBackups: KubeObject[];
  retainPVs: string[];
}

const listOrNone = async (kube: Kube, r: Parameters<Kube['list']>[0], opts = {}) => {
  try {
    return (await kube.list(r, opts)).items;
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
};

export async function readFacts(kube: Kube): Promise<ClusterFacts> {
  const crds = !!(await kube.find(core.customResourceDefinitions, 'applicationinstances.apps.vworkspace.io'));
  const [apps, operations, clusters, secrets, helmReleases, veleroBackups, pvs] = await Promise.all([
    crds ? listOrNone(kube, kinds.applicationInstances) : [],
    crds ? listOrNone(kube, kinds.operations) : [],
    listOrNone(kube, kinds.clusters),
    listOrNone(kube, core.secrets, {
      namespace: operatorNamespace,
      labelSelector: `owner=helm,name=${helmReleaseName}`,
    }),
    listOrNone(kube, upstream.helmReleases),
    listOrNone(kube, upstream.veleroBackups),
    listOrNone(kube, core.persistentVolumes),
  ]);
  const retainPVs = pvs
    .filter((pv) => (pv.spec as { persistentVolumeReclaimPolicy?: string })?.persistentVolumeReclaimPolicy === 'Retain')
    .map((pv) => pv.metadata.name)
    .sort();
  const first = secrets.find((s) => s.metadata.labels?.version === '1');
  const installedAt = first?.metadata.creationTimestamp;
  return {
    crds,
    apps,
    operations,
    clusters,
    release: secrets.length > 0,
    installedAt,
    helmReleases,
    veleroBackups,
    retainPVs,
  };
}

const keys = (xs: KubeObject[], extra: (x: KubeObject) => unknown = () => '') =>
  xs
    .map((x) => `${x.metadata.namespace}/${x.metadata.name}:${JSON.stringify(extra(x))}`)
    .sort()
    .join(',');

const phase = (x: KubeObject) => (x.status as { phase?: string } | undefined)?.phase;
const deleting = (x: KubeObject) => !!x.metadata.deletionTimestamp;

/** What each step's verdict rests on, so a step is compared only when it did not move meanwhile. */
export const stepBasis = (f: ClusterFacts): Record<1 | 2 | 3 | 4 | 5, string> => ({
  1: `${f.crds}|${keys(f.apps, (a) => a.metadata.annotations?.['apps.vworkspace.io/reconcile'])}`,
  2: `${f.release}|${keys(f.apps, deleting)}|${keys(f.operations, phase)}|${keys(f.veleroBackups, phase)}`,
  3: `${f.crds}|${keys(f.clusters, (c) => [deleting(c), c.metadata.finalizers])}`,
  4: `${f.crds}|${f.release}|${keys(f.apps, deleting)}|${keys(f.operations, deleting)}`,
  5: `${f.release}`,
});
