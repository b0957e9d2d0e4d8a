import { gunzipSync } from 'node:zlib';
import yaml from 'js-yaml';
import type { KubeClient } from '../kube/client';
import { core } from '../kube/resources';

/** Where a release stands, from its storage Secret's labels alone. */
export interface HelmReleaseHead {
  name: string;
  namespace: string;
  version: number;
  status: string;
}

export interface HelmReleaseInfo extends HelmReleaseHead {
  chart: string;
  /** Objects the release rendered; helm uninstall deletes them, except those it keeps. */
  objects: ReleaseObject[];
}

export interface ReleaseObject {
  kind: string;
  name: string;
  namespace?: string;
  /** `helm.sh/resource-policy: keep`: helm uninstall leaves it in place. */
  keep: boolean;
}

/** What helm uninstall will delete, and what it will keep. */
export const deletedBy = (r: HelmReleaseInfo | undefined) => (r?.objects ?? []).filter((o) => !o.keep);
export const keptBy = (r: HelmReleaseInfo | undefined) => (r?.objects ?? []).filter((o) => o.keep);

const releaseSecrets = (name: string) => `owner=helm,name=${name}`;
const latestOf = <T extends { metadata: { labels?: Record<string, string> } }>(secrets: T[]) =>
  secrets
    .map((s) => ({ s, version: Number(s.metadata.labels?.version ?? 0) }))
    .sort((a, b) => b.version - a.version)[0];

/**
 * The release's latest revision and its status, from the storage Secrets' labels, listed as
 * metadata only: none of the revisions' gzipped manifests crosses the wire (status needs no more).
 */
export async function readHelmReleaseHead(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<HelmReleaseHead | undefined> {
  const { items } = await client.list(core.secrets, {
    namespace,
    labelSelector: releaseSecrets(name),
    metadataOnly: true,
  });
  const latest = latestOf(items);
  const status = latest?.s.metadata.labels?.status ?? 'unknown';
  if (!latest || status === 'uninstalled') return undefined;
  return { name, namespace, version: latest.version, status };
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
  const { items } = await client.list(core.secrets, { namespace, labelSelector: releaseSecrets(name) });
  const latest = latestOf(items);
  if (!latest) return undefined;
  const status = latest.s.metadata.labels?.status ?? 'unknown';
  if (status === 'uninstalled') return undefined;
  const data = (latest.s.data as Record<string, string> | undefined)?.release;
  let objects: HelmReleaseInfo['objects'] = [];
  let chart = '';
  if (data) {
    const json = JSON.parse(
      gunzipSync(Buffer.from(Buffer.from(data, 'base64').toString('utf8'), 'base64')).toString('utf8'),
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
          kind: string;
          metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
        } => Boolean(d && typeof d === 'object' && 'kind' in d),
      )
      .map((d) => ({
        kind: d.kind,
        name: d.metadata.name,
        // helm renders namespaced objects without metadata.namespace into the release's namespace
        namespace: d.metadata.namespace ?? (d.kind === 'CustomResourceDefinition' ? undefined : namespace),
        keep: d.metadata.annotations?.['helm.sh/resource-policy'] === 'keep',
      }));
  }
  return { name, namespace, version: latest.version, status, chart, objects };
}
