import { type Noun, plural } from '../plural';
import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';
import { keptBy, readHelmRelease, readHelmReleaseHead } from '../operator/helm-release';
import {
  bootstrapCredentialSecret,
  helmReleaseName,
  operatorNamespace,
  resources,
  veleroNamespace,
} from '../operator/names';
import { clusterSchema, parseObject } from '../operator/schemas';
import { type DecommissionRecord, readDecommissionRecord, recordStanding } from './decommission/record';

/** One row of the procedure's "What persists after uninstall" table, with this cluster's facts. */
export interface PersistsRow {
  resource: string;
  persists: string;
  facts: string[];
  /** A list of objects, summarised on a screen ("12 PVs: a, b, c, ..."), in full with -o wide and in JSON. */
  items?: { noun: Noun; list: string[] };
  purge: string;
}

export interface PersistsReport {
  rows: PersistsRow[];
  backups: {
    storageLocation: string;
    count: number;
    newest?: string;
    earliestExpiry?: string;
    latestExpiry?: string;
  }[];
  snapshotContents: { name: string; deletionPolicy: string; driver?: string }[];
  retainedVolumes: { name: string; size?: string; claim?: string; storageClass?: string }[];
  bootstrapSecret: boolean;
  /** What helm uninstall keeps, or kept (helm.sh/resource-policy: keep), as "Kind/name". */
  kept: string[];
  /** HelmReleases left (orphaned once Flux is uninstalled), as "namespace/name". */
  helmReleases: string[];
  /** Volumes of the applications that keep running: claims in their namespaces. */
  runningVolumes: { claims: number; bytes: number; namespaces: number };
  odoo: {
    clusterID?: string;
    cluster?: string;
    credential: 'valid' | 'revoked' | 'not-revoked' | 'unconfirmed' | 'unknown';
    note: string;
  };
}

/** What the what-persists report is made from, as read from the cluster. */
export interface PersistsInput {
  backups: KubeObject[];
  contents: KubeObject[];
  pvs: KubeObject[];
  secret?: KubeObject;
  clusters: KubeObject[];
  /** The step 3 record, as stored, or as a caller read it before the namespace went. */
  record?: DecommissionRecord;
  /** When the operator's release now installed was first installed (its revision 1), if it is. */
  installedAt?: string;
  instances: KubeObject[];
  helmReleases: KubeObject[];
  claims: KubeObject[];
  kept: string[];
}

const releaseAnnotation = 'meta.helm.sh/release-name';

/** What helm kept: from the release while it is installed, else what still carries its ownership. */
async function keptObjects(client: KubeClient, given?: string[]): Promise<string[]> {
  if (given) return given;
  const release = await readHelmRelease(client, operatorNamespace, helmReleaseName).catch(() => undefined);
  if (release) return keptBy(release).map((o) => `${o.kind}/${o.name}`);
  const [crds, secrets] = await Promise.all([
    client.listIfServed(core.crds),
    client.listIfServed(core.secrets, { namespace: operatorNamespace }),
  ]);
  const owned = (o: KubeObject) => o.metadata.annotations?.[releaseAnnotation] === helmReleaseName;
  return [
    ...crds.filter(owned).map((o) => `CustomResourceDefinition/${o.metadata.name}`),
    ...secrets.filter(owned).map((o) => `Secret/${o.metadata.name}`),
  ];
}

export interface PersistsOptions {
  veleroNamespace?: string;
  decommission?: DecommissionRecord;
  /** What helm uninstall kept, as the caller read it from the release before uninstalling. */
  kept?: string[];
}

export async function readPersistsInput(client: KubeClient, opts: PersistsOptions = {}): Promise<PersistsInput> {
  const [backups, contents, pvs, secret, clusters, stored, instances, helmReleases, claims, kept, head] =
    await Promise.all([
      client.listIfServed(resources.veleroBackups, { namespace: opts.veleroNamespace ?? veleroNamespace }),
      client.listIfServed(resources.volumeSnapshotContents),
      client.listIfServed(core.persistentVolumes),
      client.find(core.secrets, bootstrapCredentialSecret, operatorNamespace).catch(() => undefined),
      client.listIfServed(resources.clusters, { namespace: operatorNamespace }),
      readDecommissionRecord(client).catch(() => undefined),
      client.listIfServed(resources.applicationInstances),
      client.listIfServed(resources.helmReleases),
      client.listIfServed(core.persistentVolumeClaims),
      keptObjects(client, opts.kept),
      readHelmReleaseHead(client, operatorNamespace, helmReleaseName).catch(() => undefined),
    ]);
  // The record may be gone with its namespace in older versions: the caller may pass what it read before.
  const record = stored ?? opts.decommission;
  return {
    backups,
    contents,
    pvs,
    secret,
    clusters,
    record,
    installedAt: head?.installedAt,
    instances,
    helmReleases,
    claims,
    kept,
  };
}

export async function persistsReport(client: KubeClient, opts: PersistsOptions = {}): Promise<PersistsReport> {
  return persistsFrom(await readPersistsInput(client, opts));
}

function backupsByLocation(backups: KubeObject[]): PersistsReport['backups'] {
  const byLocation = new Map<string, KubeObject[]>();
  for (const b of backups) {
    const loc = (b.spec as { storageLocation?: string } | undefined)?.storageLocation ?? 'default';
    byLocation.set(loc, [...(byLocation.get(loc) ?? []), b]);
  }
  return [...byLocation].map(([storageLocation, list]) => {
    const created = list.map((b) => b.metadata.creationTimestamp ?? '').sort();
    const expiries = list
      .map((b) => (b.status as { expiration?: string } | undefined)?.expiration)
      .filter((x): x is string => Boolean(x))
      .sort();
    return {
      storageLocation,
      count: list.length,
      newest: created.at(-1),
      earliestExpiry: expiries[0],
      latestExpiry: expiries.at(-1),
    };
  });
}

function retainedVolumesOf(pvs: KubeObject[]): PersistsReport['retainedVolumes'] {
  const retained = pvs.filter(
    (pv) => (pv.spec as { persistentVolumeReclaimPolicy?: string })?.persistentVolumeReclaimPolicy === 'Retain',
  );
  return retained.map((pv) => {
    const spec = pv.spec as {
      capacity?: { storage?: string };
      claimRef?: { namespace?: string; name?: string };
      storageClassName?: string;
    };
    return {
      name: pv.metadata.name,
      size: spec.capacity?.storage,
      claim: spec.claimRef ? `${spec.claimRef.namespace}/${spec.claimRef.name}` : undefined,
      storageClass: spec.storageClassName,
    };
  });
}

/**
 * What became of the cluster's credential in Odoo, from the Cluster CR or the step 3 record, when
 * that record is about this installation's Cluster (by uid; not superseded by a reinstall).
 */
function odooStanding(
  clusters: KubeObject[],
  stored?: DecommissionRecord,
  installedAt?: string,
): PersistsReport['odoo'] {
  const cluster = clusters.map((c) => parseObject(clusterSchema, c)).find((p) => p.ok);
  if (cluster?.ok) {
    return {
      cluster: cluster.value.metadata.name,
      clusterID: cluster.value.status?.clusterID,
      credential: 'valid',
      note: 'the Cluster CR still exists: step 3 has not finished, the credential is still valid',
    };
  }
  const { record, superseded } = recordStanding(stored, clusters, installedAt);
  if (superseded) return { credential: 'unknown', note: superseded };
  if (!record) return { credential: 'unknown', note: 'no Cluster CR left and no kubectl vw record of step 3' };
  const at = { cluster: record.cluster, clusterID: record.clusterID };
  switch (record.outcome) {
    case 'forced':
      return {
        ...at,
        credential: 'not-revoked',
        note: `finalizer removed by force at ${record.forcedAt}: the credential was NOT revoked server-side`,
      };
    case 'revoked':
      return {
        ...at,
        credential: 'revoked',
        note: `Odoo acknowledged the decommission at ${record.finishedAt ?? '?'}: ${record.evidence ?? 'credential and keypair revoked'}`,
      };
    default:
      return {
        ...at,
        credential: 'unconfirmed',
        note: `revocation NOT confirmed: ${record.evidence ?? 'the Cluster went while no one watched its finalizer'}`,
      };
  }
}

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const decimal: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
/** A resource.Quantity (5Gi, 500M) in bytes; 0 when it is not one. */
export function quantityBytes(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT])?$/.exec(q ?? '');
  if (!m) return 0;
  const unit = m[2] ?? '';
  return Number(m[1]) * (binary[unit] ?? decimal[unit] ?? 1);
}
export const formatBytes = (n: number) =>
  n >= 2 ** 40
    ? `${+(n / 2 ** 40).toFixed(1)}Ti`
    : n >= 2 ** 30
      ? `${+(n / 2 ** 30).toFixed(1)}Gi`
      : `${+(n / 2 ** 20).toFixed(1)}Mi`;

/** The claims in the namespaces of the applications that keep running. */
function runningVolumes(instances: KubeObject[], claims: KubeObject[]): PersistsReport['runningVolumes'] {
  const namespaces = new Set(instances.map((i) => i.metadata.namespace));
  const theirs = claims.filter((c) => namespaces.has(c.metadata.namespace));
  const bytes = theirs.reduce(
    (n, c) =>
      n + quantityBytes((c.spec as { resources?: { requests?: { storage?: string } } })?.resources?.requests?.storage),
    0,
  );
  return { claims: theirs.length, bytes, namespaces: namespaces.size };
}

/** What stays running, and what stays behind, when the applications are kept (the default). */
function applicationRows(r: Omit<PersistsReport, 'rows'>): PersistsRow[] {
  const v = r.runningVolumes;
  return [
    {
      resource: 'Volumes of the applications that keep running',
      persists: v.claims ? `Yes: ${plural(v.claims, 'claim')}, ${formatBytes(v.bytes)}` : 'None',
      facts: v.claims
        ? [`${plural(v.claims, 'PersistentVolumeClaim')} in the ${plural(v.namespaces, 'namespace')} with applications`]
        : [],
      purge: 'They belong to the running applications: delete the applications first (kubectl vw purge --delete-apps).',
    },
    {
      resource: "The applications' HelmReleases",
      persists: r.helmReleases.length ? `Yes: ${r.helmReleases.length}, orphaned once Flux is uninstalled` : 'None',
      facts: [],
      items: { noun: { one: 'HelmRelease' }, list: r.helmReleases },
      purge:
        'With Flux gone nothing reconciles them or removes their finalizer: kubectl patch helmrelease NAME -n NS --type=merge -p \'{"metadata":{"finalizers":null}}\', then delete them and their charts\' resources.',
    },
    {
      resource: 'Objects helm uninstall keeps (helm.sh/resource-policy: keep)',
      persists: r.kept.length ? `Yes: ${r.kept.length}` : 'None',
      facts: [],
      items: { noun: { one: 'object' }, list: r.kept },
      purge: 'Delete each by hand once no longer needed (CRDs only after every object of their kind is gone).',
    },
  ];
}

function storageRows(r: Omit<PersistsReport, 'rows'>): PersistsRow[] {
  const policyCounts: Record<string, number> = {};
  for (const c of r.snapshotContents) policyCounts[c.deletionPolicy] = (policyCounts[c.deletionPolicy] ?? 0) + 1;
  const snapshots = r.snapshotContents.length;
  return [
    {
      resource: 'Velero backups in BackupStorageLocation (object storage)',
      persists: 'Yes',
      facts: r.backups.length
        ? r.backups.map(
            (b) =>
              `${b.storageLocation}: ${plural(b.count, 'backup')}, newest ${b.newest ?? '?'}, expire ${b.earliestExpiry ?? '?'} .. ${b.latestExpiry ?? '?'}`,
          )
        : ['no Velero Backup objects found'],
      purge: 'Delete the bucket / prefix manually after confirming no further restore needs.',
    },
    {
      resource: "CSI snapshots in the storage driver's snapshot store",
      persists: snapshots
        ? `Yes for Retain (${policyCounts.Retain ?? 0}), removed with their VolumeSnapshot for Delete (${policyCounts.Delete ?? 0})`
        : 'None found',
      facts: snapshots
        ? [
            `${plural(snapshots, 'VolumeSnapshotContent')}: ${Object.entries(policyCounts)
              .map(([p, n]) => `${n} ${p}`)
              .join(', ')}`,
          ]
        : [],
      purge: "Delete via the storage driver's tooling.",
    },
    {
      resource: 'PersistentVolumes from applications',
      persists: r.retainedVolumes.length
        ? `Yes: ${r.retainedVolumes.length} with reclaimPolicy Retain`
        : 'No Retain volumes found',
      facts: [],
      items: {
        noun: {
          one: 'Retain PV',
          suffix: `, ${formatBytes(r.retainedVolumes.reduce((n, v) => n + quantityBytes(v.size), 0))}`,
        },
        list: r.retainedVolumes.map((v) => `${v.name} (${v.size ?? '?'}, claim ${v.claim ?? 'none'})`),
      },
      purge:
        'Retain PVs must be deleted manually (kubectl delete pv NAME); backend storage is untouched until the driver-specific delete runs.',
    },
  ];
}

const odooPersists: Record<PersistsReport['odoo']['credential'], string> = {
  valid: 'Yes, credential still valid',
  revoked: 'Yes, but the credential is invalidated',
  'not-revoked': 'Yes, and the credential is NOT invalidated',
  unconfirmed: 'Yes; revocation NOT confirmed',
  unknown: 'Yes; whether the credential was revoked is unknown',
};

function operatorRows(r: Omit<PersistsReport, 'rows'>): PersistsRow[] {
  const { odoo } = r;
  return [
    {
      resource: "The operator's bootstrap credential Secret",
      persists: r.bootstrapSecret ? `Yes: ${operatorNamespace}/${bootstrapCredentialSecret}` : 'No (gone)',
      facts: [],
      purge: `Deleting the namespace removes it (kubectl vw purge --delete-namespace).`,
    },
    {
      resource: "The cluster's identity record in Odoo",
      persists: odooPersists[odoo.credential],
      facts: [odoo.clusterID ? `cluster ID ${odoo.clusterID}` : 'cluster ID unknown', odoo.note],
      purge:
        "Delete the cluster row in Odoo's Cluster Registry" +
        (odoo.credential === 'not-revoked' || odoo.credential === 'unconfirmed'
          ? ' and revoke its credential by hand first (unless Odoo shows it revoked).'
          : '.'),
    },
    {
      resource: 'Audit events in Odoo',
      persists: 'Yes, as part of the audit log',
      facts: [],
      purge: 'Standard Odoo data retention applies; the operator does not push deletes for past audit events.',
    },
  ];
}

/** The procedure's what-persists table, filled in with this cluster's facts. */
export function persistsFrom(input: PersistsInput): PersistsReport {
  const facts: Omit<PersistsReport, 'rows'> = {
    backups: backupsByLocation(input.backups),
    snapshotContents: input.contents.map((c) => {
      const spec = c.spec as { deletionPolicy?: string; driver?: string } | undefined;
      return { name: c.metadata.name, deletionPolicy: spec?.deletionPolicy ?? 'unknown', driver: spec?.driver };
    }),
    retainedVolumes: retainedVolumesOf(input.pvs),
    bootstrapSecret: Boolean(input.secret),
    kept: input.kept,
    helmReleases: input.helmReleases.map((h) => `${h.metadata.namespace}/${h.metadata.name}`),
    runningVolumes: runningVolumes(input.instances, input.claims),
    odoo: odooStanding(input.clusters, input.record, input.installedAt),
  };
  return { rows: [...storageRows(facts), ...applicationRows(facts), ...operatorRows(facts)], ...facts };
}
