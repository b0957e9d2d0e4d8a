import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';
import { deletedBy, readHelmRelease } from './helm-release';
import { helmReleaseName, operatorNamespace } from './names';

/** One Deployment of the operator's bundle (the operator, Flux, cert-manager, ...), as found. */
export interface BundleDeployment {
  name: string;
  namespace: string;
  found: boolean;
  replicas: number;
  available: number;
}

const releaseAnnotation = 'meta.helm.sh/release-name';
const releaseNamespaceAnnotation = 'meta.helm.sh/release-namespace';

/**
 * The Deployments the operator's helm release rendered. The contract names the release, not the
 * Deployment: so they are found through the release (its manifest, else helm's ownership
 * annotations on what is there), never by a guessed name.
 */
export async function bundleDeployments(client: KubeClient): Promise<BundleDeployment[]> {
  const release = await readHelmRelease(client, operatorNamespace, helmReleaseName);
  let named = deletedBy(release)
    .filter((o) => o.kind === 'Deployment')
    .map((o) => ({ name: o.name, namespace: o.namespace ?? operatorNamespace }));
  if (!release) {
    const { items } = await client.list(core.deployments, { namespace: operatorNamespace });
    named = items
      .filter(
        (d) =>
          d.metadata.annotations?.[releaseAnnotation] === helmReleaseName &&
          (d.metadata.annotations?.[releaseNamespaceAnnotation] ?? operatorNamespace) === operatorNamespace,
      )
      .map((d) => ({ name: d.metadata.name, namespace: d.metadata.namespace ?? operatorNamespace }));
  }
  return Promise.all(
    named.map(async ({ name, namespace }) => {
      const d = await client.find<KubeObject>(core.deployments, name, namespace);
      const spec = d?.spec as { replicas?: number } | undefined;
      const status = d?.status as { availableReplicas?: number } | undefined;
      return {
        name,
        namespace,
        found: Boolean(d),
        replicas: spec?.replicas ?? 1,
        available: status?.availableReplicas ?? 0,
      };
    }),
  );
}
