import type { KubeClient } from '../../kube/client';
import { Discovery } from '../../kube/discovery';
import { deletedBy, type HelmReleaseInfo, readHelmRelease } from '../../operator/helm-release';
import type { ReleaseResource } from '../needs';
import { helmReleaseName, operatorNamespace } from '../../operator/names';
import { otherCrdsDeleted } from './plan';

/**
 * The resources helm uninstall deletes objects of, where they live: what its access review
 * checks, from the release's own manifest (the real bundle renders far more than Deployments).
 */
export async function releaseResources(
  client: KubeClient,
  release: HelmReleaseInfo | undefined,
): Promise<ReleaseResource[]> {
  const objects = deletedBy(release);
  const discovery = new Discovery(client);
  const out = new Map<string, ReleaseResource>();
  for (const o of objects) {
    const r = o.apiVersion ? await discovery.resourceFor(o.apiVersion, o.kind) : undefined;
    if (!r) continue; // not served any more: helm skips what it cannot build
    const namespace = r.namespaced ? (o.namespace ?? release?.namespace) : undefined;
    out.set(`${r.group}/${r.plural}/${namespace ?? ''}`, { group: r.group, plural: r.plural, namespace });
  }
  return [...out.values()];
}

/** What purge's access review needs to know of the release before the plan reads it whole. */
export async function readReleaseFacts(client: KubeClient) {
  const release = await readHelmRelease(client, operatorNamespace, helmReleaseName);
  const [objects, others] = await Promise.all([
    releaseResources(client, release),
    otherCrdsDeleted(client, release, { count: false }),
  ]);
  return {
    driver: release?.driver,
    release: objects,
    otherCrds: others.flatMap((c) => (c.resource ? [{ group: c.resource.group, plural: c.resource.plural }] : [])),
  };
}
