import type { KubeClient } from '../../kube/client';
import { core, type KubeObject } from '../../kube/resources';
import { type HelmReleaseInfo, readHelmRelease } from '../../operator/helm-release';
import { helmReleaseName, operatorCrds, operatorNamespace, resources, veleroNamespace } from '../../operator/names';
import { type Cluster, clusterSchema, parseObject } from '../../operator/schemas';
import { type DecommissionRecord, readDecommissionRecord } from '../decommission/record';

/** Everything status reads from the cluster, read once. */
export interface Observed {
  crds: string[];
  crdsInstalled: boolean;
  namespace: boolean;
  instances: KubeObject[];
  operations: KubeObject[];
  clusters: KubeObject[];
  cluster?: Cluster;
  helmReleases: KubeObject[];
  /** Velero Backups, for judging final backups. */
  veleroBackups: KubeObject[];
  release?: HelmReleaseInfo;
  record?: DecommissionRecord;
}

/** Reads what the five steps are judged by: the CRDs, the operator's objects, the release, the record. */
export async function observeCluster(client: KubeClient): Promise<Observed> {
  const crds = (await Promise.all(operatorCrds.map(async (n) => ((await client.find(core.crds, n)) ? n : '')))).filter(
    Boolean,
  );
  const crdsInstalled = crds.length === operatorCrds.length;
  const namespace = Boolean(await client.find(core.namespaces, operatorNamespace));
  const [instances, operations, clusters, helmReleases] = crdsInstalled
    ? await Promise.all([
        client.listIfServed(resources.applicationInstances),
        client.listIfServed(resources.operations),
        namespace ? client.listIfServed(resources.clusters, { namespace: operatorNamespace }) : Promise.resolve([]),
        client.listIfServed(resources.helmReleases),
      ])
    : [[], [], [], await client.listIfServed(resources.helmReleases)];
  const release = namespace ? await readHelmRelease(client, operatorNamespace, helmReleaseName) : undefined;
  const veleroBackups = crdsInstalled
    ? await client.listIfServed(resources.veleroBackups, { namespace: veleroNamespace })
    : [];
  const record = await readDecommissionRecord(client).catch(() => undefined);
  const parsed = clusters.map((c) => parseObject(clusterSchema, c)).find((p) => p.ok);
  const cluster = parsed?.ok ? parsed.value : undefined;
  return {
    crds,
    crdsInstalled,
    namespace,
    instances,
    operations,
    clusters,
    cluster,
    helmReleases,
    veleroBackups,
    release,
    record,
  };
}
