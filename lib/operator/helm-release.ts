import { gunzipSync } from 'node:zlib';
import yaml from 'js-yaml';
import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';

/** Where helm keeps a release: its storage driver (HELM_DRIVER), Secrets by default, ConfigMaps with configmap. */
export type HelmDriver = 'secret' | 'configmap';

/** Where a release stands, from its storage object's labels alone. */
export interface HelmReleaseHead {
  name: string;
  namespace: string;
  version: number;
  status: string;
  /** Which driver holds it: helm must be told (HELM_DRIVER), or it looks elsewhere and finds nothing. */
  driver: HelmDriver;
  /** The uid of the latest revision's storage object: the revision judged, by identity. */
  storageUid?: string;
  /** When its oldest revision still stored was written: with version 1, the installation's time. */
  installedAt?: string;
}

export interface HelmReleaseInfo extends HelmReleaseHead {
  chart: string;
  /** Objects the release rendered; helm uninstall deletes them, except those it keeps. */
  objects: ReleaseObject[];
}

export interface ReleaseObject {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  /** helm uninstall leaves it in place (see resourcePolicy). */
  keep: boolean;
  /** The helm.sh/resource-policy annotation as the chart rendered it, when it has one. */
  policy?: string;
}

export const resourcePolicyAnnotation = 'helm.sh/resource-policy';

/**
 * What helm uninstall does with an object, as helm reads the policy (pkg/action/resource_policy.go,
 * filterManifestsToKeep): without the annotation it deletes it; the value trimmed and lower-cased
 * `keep` keeps it (and helm says so); any other value is neither deleted nor reported: helm
 * leaves it where it is too.
 */
export function resourcePolicy(policy: string | undefined): 'delete' | 'keep' | 'left' {
  if (policy === undefined) return 'delete';
  return policy.trim().toLowerCase() === 'keep' ? 'keep' : 'left';
}

/** Why helm uninstall leaves an object, in helm's own terms. */
export const keptWhy = (o: Pick<ReleaseObject, 'policy'>) =>
  resourcePolicy(o.policy) === 'keep'
    ? `kept by helm uninstall (helm.sh/resource-policy: ${JSON.stringify(o.policy)})`
    : `left by helm uninstall: helm.sh/resource-policy ${JSON.stringify(o.policy)} is not "keep", and helm deletes only objects without the annotation`;

/** What helm uninstall will delete, and what it will keep. */
export const deletedBy = (r: HelmReleaseInfo | undefined) => (r?.objects ?? []).filter((o) => !o.keep);
export const keptBy = (r: HelmReleaseInfo | undefined) => (r?.objects ?? []).filter((o) => o.keep);

const releaseSecrets = (name: string) => `owner=helm,name=${name}`;
const byVersion = <T extends { metadata: { labels?: Record<string, string> } }>(stored: T[]) =>
  stored.map((s) => ({ s, version: Number(s.metadata.labels?.version ?? 0) })).sort((a, b) => b.version - a.version);

/**
 * The release's storage objects, from wherever helm keeps them: Secrets (helm's default), else
 * ConfigMaps (HELM_DRIVER=configmap). Metadata only unless the manifest is wanted.
 */
async function releaseStorage(
  client: KubeClient,
  namespace: string,
  name: string,
  metadataOnly: boolean,
): Promise<{ driver: HelmDriver; items: KubeObject[] }> {
  const opts = { namespace, labelSelector: releaseSecrets(name), metadataOnly };
  const secrets = (await client.list(core.secrets, opts)).items;
  if (secrets.length) return { driver: 'secret', items: secrets };
  const configMaps = (await client.list(core.configMaps, opts)).items;
  return configMaps.length ? { driver: 'configmap', items: configMaps } : { driver: 'secret', items: [] };
}

/** The head of a release from its storage objects: undefined once uninstalled (or never installed). */
function headOf(name: string, namespace: string, stored: { driver: HelmDriver; items: KubeObject[] }) {
  const sorted = byVersion(stored.items);
  const latest = sorted[0];
  const status = latest?.s.metadata.labels?.status ?? 'unknown';
  if (!latest || status === 'uninstalled') return undefined;
  const oldest = sorted.at(-1);
  const head: HelmReleaseHead = {
    name,
    namespace,
    version: latest.version,
    status,
    driver: stored.driver,
    storageUid: latest.s.metadata.uid,
    installedAt: oldest?.version === 1 ? oldest.s.metadata.creationTimestamp : undefined,
  };
  return { head, latest: latest.s };
}

/**
 * The release's latest revision and its status, from the storage Secrets' labels, listed as
 * metadata only: none of the revisions' gzipped manifests crosses the wire (status needs no more).
 */
export async function readHelmReleaseHead(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<HelmReleaseHead | undefined> {
  return headOf(name, namespace, await releaseStorage(client, namespace, name, true))?.head;
}

/**
 * Reads a helm 3 release from its storage Secret (sh.helm.release.v1.<name>.v<N>): the data is
 * base64 of gzipped JSON. Reading it through the API means the plan needs no helm binary.
 */
export async function readHelmRelease(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<HelmReleaseInfo | undefined> {
  const found = headOf(name, namespace, await releaseStorage(client, namespace, name, false));
  if (!found) return undefined;
  const data = (found.latest.data as Record<string, string> | undefined)?.release;
  let objects: HelmReleaseInfo['objects'] = [];
  let chart = '';
  if (data) {
    const json = JSON.parse(
      // helm stores base64 of gzipped JSON; a Secret's data adds Kubernetes' own base64 layer.
      gunzipSync(
        Buffer.from(found.head.driver === 'secret' ? Buffer.from(data, 'base64').toString('utf8') : data, 'base64'),
      ).toString('utf8'),
    ) as {
      manifest?: string;
      chart?: { metadata?: { name?: string; version?: string } };
    };
    chart = `${json.chart?.metadata?.name ?? ''}-${json.chart?.metadata?.version ?? ''}`;
    objects = yaml
      .loadAll(json.manifest ?? '')
      .filter(
        (
          d,
        ): d is {
          apiVersion?: string;
          kind: string;
          metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
        } => Boolean(d && typeof d === 'object' && 'kind' in d),
      )
      .map((d) => ({
        apiVersion: d.apiVersion,
        kind: d.kind,
        name: d.metadata.name,
        // helm renders namespaced objects without metadata.namespace into the release's namespace
        namespace: d.metadata.namespace ?? (d.kind === 'CustomResourceDefinition' ? undefined : namespace),
        keep: resourcePolicy(d.metadata.annotations?.[resourcePolicyAnnotation]) !== 'delete',
        policy: d.metadata.annotations?.[resourcePolicyAnnotation],
      }));
  }
  return { ...found.head, chart, objects };
}
