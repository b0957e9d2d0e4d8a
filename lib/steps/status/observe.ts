import { type Settled, settle, settled } from '../../concurrency';
import { isNotFound } from '../../kube/api-error';
import type { KubeClient, ListOptions } from '../../kube/client';
import { core, type KubeObject, type ResourceType, withoutManagedFields } from '../../kube/resources';
import { type HelmReleaseHead, readHelmReleaseHead } from '../../operator/helm-release';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../../operator/names';
import { type Cluster, clusterSchema, parseObject } from '../../operator/schemas';
import { type DecommissionRecord, readDecommissionRecord } from '../decommission/record';
import { surveyVelero, type VeleroSurvey } from '../velero';

/** Everything status reads from the cluster, read once. */
export interface Observed {
  crds: string[];
  crdsInstalled: boolean;
  namespace: boolean;
  /** Slim: what the steps are judged by (annotations, conditions, deletion), not each one's values. */
  instances: KubeObject[];
  operations: KubeObject[];
  clusters: KubeObject[];
  cluster?: Cluster;
  /** Slim: annotations and spec.suspend, never the values every HelmRelease carries. */
  helmReleases: KubeObject[];
  /** Velero, for judging final backups: the one survey backup and the gates use. */
  velero: VeleroSurvey;
  release?: HelmReleaseHead;
  record?: DecommissionRecord;
}

/** What status keeps of an ApplicationInstance: what the five steps are judged by. */
function slimInstance(o: KubeObject): KubeObject {
  const { name, namespace, annotations, deletionTimestamp, finalizers } = o.metadata;
  const status = o.status as { conditions?: unknown[] } | undefined;
  const capable = (o.spec as { backup?: { capable?: boolean } } | undefined)?.backup?.capable;
  return {
    metadata: { name, namespace, annotations, deletionTimestamp, finalizers },
    // Whether it can be backed up decides whether BackupNotSupported exempts it.
    spec: capable === undefined ? {} : { backup: { capable } },
    status: { conditions: status?.conditions },
  };
}

/** What status keeps of a HelmRelease: whether it is suspended, and by whom. */
function slimHelmRelease(o: KubeObject): KubeObject {
  const { name, namespace, annotations } = o.metadata;
  return { metadata: { name, namespace, annotations }, spec: { suspend: (o.spec as { suspend?: boolean })?.suspend } };
}

/** Every object of a kind, slimmed page by page (memory follows the page size); none when not served. */
async function listSlim(client: KubeClient, r: ResourceType, slim: (o: KubeObject) => KubeObject, opts?: ListOptions) {
  const items: KubeObject[] = [];
  try {
    for await (const o of client.listItems(r, opts)) items.push(slim(o));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return items;
}

/**
 * Reads what the five steps are judged by: the CRDs, the operator's objects, the release, the
 * record, all at once (one round trip, not one after another). What turns out not to matter (the
 * operator's kinds once their CRDs are gone, the release once its namespace is) is dropped,
 * errors and all, as if it had never been asked for.
 */
export async function observeCluster(client: KubeClient, opts: { veleroNamespace?: string } = {}): Promise<Observed> {
  const crdsRead = settle(Promise.all(operatorCrds.map(async (n) => ((await client.find(core.crds, n)) ? n : ''))));
  const namespaceRead = settle(client.find(core.namespaces, operatorNamespace));
  const instances = settle(listSlim(client, resources.applicationInstances, slimInstance));
  const operations = settle(client.listIfServed(resources.operations, { slim: withoutManagedFields }));
  const clusters = settle(client.listIfServed(resources.clusters, { namespace: operatorNamespace }));
  const velero = settle(
    surveyVelero(client, { veleroNamespace: opts.veleroNamespace, operations: settled(operations) }),
  );
  const helmReleases = settle(listSlim(client, resources.helmReleases, slimHelmRelease));
  const release = settle(readHelmReleaseHead(client, operatorNamespace, helmReleaseName));
  const record = readDecommissionRecord(client).catch(() => undefined);
  const crds = (await settled(crdsRead)).filter(Boolean);
  const crdsInstalled = crds.length === operatorCrds.length;
  const namespace = Boolean(await settled(namespaceRead));
  const ifInstalled = <T>(p: Promise<Settled<T[]>>) => (crdsInstalled ? settled(p) : Promise.resolve([]));
  const listedClusters = namespace ? await ifInstalled(clusters) : [];
  const parsed = listedClusters.map((c) => parseObject(clusterSchema, c)).find((p) => p.ok);
  return {
    crds,
    crdsInstalled,
    namespace,
    instances: await ifInstalled(instances),
    operations: await ifInstalled(operations),
    clusters: listedClusters,
    cluster: parsed?.ok ? parsed.value : undefined,
    helmReleases: await settled(helmReleases),
    velero: crdsInstalled
      ? await settled(velero)
      : { namespaces: [], backups: [], locations: new Map(), deleteRequests: [], claims: [] },
    release: namespace ? await settled(release) : undefined,
    record: await record,
  };
}
