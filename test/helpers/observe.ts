import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1ConfigMap,
  type V1Lease,
  Watch,
} from '@kubernetes/client-node';

// What tests read the cluster through: @kubernetes/client-node's typed clients, never the
// product's own KubeClient, so that a bug of the product's (paging, dry-run bodies, retries) cannot
// be mirrored in its assertions.

export interface ObservedObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    generation?: number;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const notFound = (err: unknown) => (err as { code?: number }).code === 404;
const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
};

const kinds = {
  clusters: { group: 'ops.vworkspace.io', version: 'v1alpha1', plural: 'clusters' },
  operations: { group: 'ops.vworkspace.io', version: 'v1alpha1', plural: 'operations' },
  applicationInstances: { group: 'apps.vworkspace.io', version: 'v1alpha1', plural: 'applicationinstances' },
  veleroBackups: { group: 'velero.io', version: 'v1', plural: 'backups' },
  helmReleases: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
};

export type ObservedKind = keyof typeof kinds;

export function observe(kubeconfig: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  return {
    get: (kind: ObservedKind, namespace: string, name: string) =>
      orUndefined(custom.getNamespacedCustomObject({ ...kinds[kind], namespace, name }) as Promise<ObservedObject>),
    list: async (kind: ObservedKind, namespace?: string): Promise<ObservedObject[]> => {
      const r = (
        namespace
          ? await custom.listNamespacedCustomObject({ ...kinds[kind], namespace })
          : await custom.listClusterCustomObject(kinds[kind])
      ) as { items: ObservedObject[] };
      return r.items;
    },
    configMap: (namespace: string, name: string): Promise<V1ConfigMap | undefined> =>
      orUndefined(core.readNamespacedConfigMap({ namespace, name })),
    lease: (namespace: string, name: string): Promise<V1Lease | undefined> =>
      orUndefined(coordination.readNamespacedLease({ namespace, name })),
    helmReleaseSecrets: async (namespace: string, release: string) =>
      (await core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${release}` })).items,
    /**
     * Every change of one Lease as it happens (a watch): the holder named, or undefined once it is
     * released or gone, with when it was seen. Resolves once watching; call the result to stop.
     */
    watchLease: async (namespace: string, name: string, seen: (holder: string | undefined, at: number) => void) => {
      const watch = new Watch(kc);
      const req = await watch.watch(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        { fieldSelector: `metadata.name=${name}` },
        (type: string, lease: V1Lease) => seen(type === 'DELETED' ? undefined : lease.spec?.holderIdentity, Date.now()),
        () => undefined,
      );
      return () => req.abort();
    },
    deployments: async (namespace: string) => {
      const { AppsV1Api } = await import('@kubernetes/client-node');
      return (await kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace })).items;
    },
  };
}

export type Observer = ReturnType<typeof observe>;
