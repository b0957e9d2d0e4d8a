import { mapLimit } from '../../concurrency';
import type { KubeClient } from '../../kube/client';
import { Discovery } from '../../kube/discovery';
import { type HelmReleaseInfo, keptWhy, type ReleaseObject } from '../../operator/helm-release';
import type { ObjectResult } from '../results';

/** Is one object of the release there now? undefined when its kind is no longer served (gone with its CRD). */
async function present(client: KubeClient, discovery: Discovery, o: ReleaseObject): Promise<boolean> {
  const r = o.apiVersion ? await discovery.resourceFor(o.apiVersion, o.kind) : undefined;
  if (!r) return false;
  return Boolean(await client.find(r, o.name, r.namespaced ? o.namespace : undefined));
}

/**
 * After helm uninstall: each object of the release, read back. What was to go and went is
 * changed; what was to go and stays failed; what helm keeps and stays is unchanged.
 */
export async function releaseObjectsPresent(client: KubeClient, release: HelmReleaseInfo): Promise<ObjectResult[]> {
  const discovery = new Discovery(client);
  return mapLimit(release.objects, 8, async (o) => {
    const there = await present(client, discovery, o);
    const row = { kind: o.kind, name: o.name, namespace: o.namespace, action: o.keep ? 'keep' : 'delete' };
    if (o.keep)
      return there
        ? { ...row, result: 'unchanged' as const, message: keptWhy(o) }
        : {
            ...row,
            result: 'failed' as const,
            message: `was to be left by helm uninstall (helm.sh/resource-policy ${JSON.stringify(o.policy)}), but it is gone`,
          };
    return there
      ? { ...row, result: 'failed' as const, message: 'still there after helm uninstall' }
      : { ...row, result: 'changed' as const, message: 'deleted by helm uninstall' };
  });
}
