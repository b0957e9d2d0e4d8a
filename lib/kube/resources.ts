/** A Kubernetes resource type addressed by group, version and plural, as the REST paths use. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/**
 * A copy without metadata.managedFields: for a list read only to judge by (Operations, Velero's
 * Backups), where the server's field tracking is often most of each object's size.
 */
export function withoutManagedFields<T extends KubeObject>(o: T): T {
  if (!o.metadata?.managedFields) return o;
  const { managedFields: _, ...metadata } = o.metadata;
  return { ...o, metadata };
}

export const apiVersionOf = (r: ResourceType) => (r.group ? `${r.group}/${r.version}` : r.version);

export function resourcePath(
  r: ResourceType,
  opts: { namespace?: string; name?: string; subresource?: string } = {},
): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  const name = opts.name ? `/${encodeURIComponent(opts.name)}` : '';
  const sub = opts.name && opts.subresource ? `/${opts.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export const core = {
  namespaces: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  secrets: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  configMaps: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  events: { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  persistentVolumes: {
    group: '',
    version: 'v1',
    plural: 'persistentvolumes',
    kind: 'PersistentVolume',
    namespaced: false,
  },
  persistentVolumeClaims: {
    group: '',
    version: 'v1',
    plural: 'persistentvolumeclaims',
    kind: 'PersistentVolumeClaim',
    namespaced: true,
  },
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  leases: {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    kind: 'Lease',
    namespaced: true,
  },
  crds: {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
  },
} satisfies Record<string, ResourceType>;

/** The metadata every object has; kinds' own fields are parsed where they are used. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: unknown[];
    managedFields?: unknown[];
  };
  [field: string]: unknown;
}

export interface ObjectList<T = KubeObject> {
  /** remainingItemCount: with limit (and no selector), how many items the later pages hold. */
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}
