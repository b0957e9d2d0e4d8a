import { type Noun, plural } from '../plural';
import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';
import { keptBy, readHelmRelease, readHelmReleaseHead } from '../operator/helm-release';
import { bootstrapCredentialSecret, helmReleaseName, operatorNamespace, resources } from '../operator/names';
import { clusterSchema, parseObject } from '../operator/schemas';
import { type DecommissionRecord, readDecommissionRecord, recordStanding } from './decommission/record';
import { locationStanding, surveyVelero, type VeleroSurvey } from './velero';

/** One row of the procedure's "What persists after uninstall" table, with this cluster's facts. */
export interface PersistsRow {
  /** Stable, for scripts: velero-backups, csi-snapshots, persistent-volumes, claims, helm-releases, helm-kept, bootstrap-secret, odoo-identity, odoo-audit. */
  id: string;
  resource: string;
  persists: string;
  facts: string[];
  /** A list of objects, summarised on a screen ("12 PVs: a, b, c, ..."), in full with -o wide and in JSON. */
  items?: { noun: Noun; list: string[] };
  /** Exactly the objects this row counts, as Kind/namespace/name (Kind/name when cluster-scoped). */
  objects: string[];
  purge: string;
}

/** Which steps have run, as the cluster shows them: the advice is worded by these. */
export interface StepsRun {
  /** Step 3: no Cluster CR is left. */
  decommissioned: boolean;
  /** Step 4: no ApplicationInstance or Operation is left. */
  appsDeleted: boolean;
  /** Step 5: the operator's helm release is gone (and with it Flux and Velero). */
  uninstalled: boolean;
  namespaceDeleted: boolean;
}

interface Volume {
  name: string;
  size?: string;
  claim?: string;
  storageClass?: string;
}

export interface PersistsReport {
  rows: PersistsRow[];
  steps: StepsRun;
  backups: {
    storageLocation: string;
    count: number;
    newest?: string;
    earliestExpiry?: string;
    latestExpiry?: string;
    /**
     * Volume snapshots those backups took, by Velero's own counts (native and CSI, completed).
     * Velero (1.14+) keeps a CSI snapshot in the driver (Retain) and removes its
     * VolumeSnapshotContent once the backup holds the handle, so these persist unseen in the cluster.
     */
    snapshots: number;
  }[];
  /** Velero Backups whose BackupStorageLocation is gone: Velero cannot restore them, as "namespace/name". */
  backupsWithoutLocation: string[];
  snapshotContents: { name: string; deletionPolicy: string; driver?: string }[];
  retainedVolumes: Volume[];
  /** PVs with reclaimPolicy Delete still bound to a claim: they go when their claim goes. */
  boundDeleteVolumes: Volume[];
  bootstrapSecret: boolean;
  /** What helm uninstall keeps, or kept (helm.sh/resource-policy), as "Kind/name". */
  kept: string[];
  /** HelmReleases left (orphaned once Flux is uninstalled), as "namespace/name". */
  helmReleases: string[];
  /** Claims that stay with the workloads that stay: in namespaces with ApplicationInstances or HelmReleases left. */
  runningVolumes: { claims: number; bytes: number; namespaces: number; list: string[] };
  odoo: {
    clusterID?: string;
    cluster?: string;
    credential: 'valid' | 'revoked' | 'not-revoked' | 'unconfirmed' | 'unknown';
    note: string;
  };
}

/** What the what-persists report is made from, as read from the cluster. */
export interface PersistsInput {
  velero: VeleroSurvey;
  contents: KubeObject[];
  pvs: KubeObject[];
  secret?: KubeObject;
  clusters: KubeObject[];
  /** The step 3 record, as stored, or as a caller read it before the namespace went. */
  record?: DecommissionRecord;
  /** When the operator's release now installed was first installed (its revision 1), if it is. */
  installedAt?: string;
  instances: KubeObject[];
  operations: KubeObject[];
  helmReleases: KubeObject[];
  claims: KubeObject[];
  kept: string[];
  /** The operator's helm release is installed. */
  release: boolean;
  namespace: boolean;
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
  const operations = client.listIfServed(resources.operations);
  const namespace = client.find(core.namespaces, operatorNamespace).then(Boolean);
  const [velero, contents, pvs, secret, clusters, stored, instances, helmReleases, claims, kept, head] =
    await Promise.all([
      surveyVelero(client, { veleroNamespace: opts.veleroNamespace, operations, claims: false }),
      client.listIfServed(resources.volumeSnapshotContents),
      client.listIfServed(core.persistentVolumes),
      client.find(core.secrets, bootstrapCredentialSecret, operatorNamespace).catch(() => undefined),
      client.listIfServed(resources.clusters, { namespace: operatorNamespace }),
      readDecommissionRecord(client).catch(() => undefined),
      client.listIfServed(resources.applicationInstances),
      client.listIfServed(resources.helmReleases),
      client.listIfServed(core.persistentVolumeClaims),
      keptObjects(client, opts.kept),
      namespace.then((there) => (there ? readHelmReleaseHead(client, operatorNamespace, helmReleaseName) : undefined)),
    ]);
  // The record may be gone with its namespace in older versions: the caller may pass what it read before.
  const record = stored ?? opts.decommission;
  return {
    velero,
    contents,
    pvs,
    secret,
    clusters,
    record,
    installedAt: head?.installedAt,
    instances,
    operations: await operations,
    helmReleases,
    claims,
    kept,
    release: Boolean(head),
    namespace: await namespace,
  };
}

export async function persistsReport(client: KubeClient, opts: PersistsOptions = {}): Promise<PersistsReport> {
  return persistsFrom(await readPersistsInput(client, opts));
}

const nsName = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
const objectId = (kind: string, o: KubeObject) => `${kind}/${nsName(o)}`;

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
    const taken = (b: KubeObject) => {
      const st = b.status as { volumeSnapshotsCompleted?: number; csiVolumeSnapshotsCompleted?: number } | undefined;
      return (st?.volumeSnapshotsCompleted ?? 0) + (st?.csiVolumeSnapshotsCompleted ?? 0);
    };
    return {
      storageLocation,
      count: list.length,
      newest: created.at(-1),
      earliestExpiry: expiries[0],
      latestExpiry: expiries.at(-1),
      snapshots: list.reduce((n, b) => n + taken(b), 0),
    };
  });
}

interface PvSpec {
  persistentVolumeReclaimPolicy?: string;
  capacity?: { storage?: string };
  claimRef?: { namespace?: string; name?: string };
  storageClassName?: string;
}

const volumeOf = (pv: KubeObject): Volume => {
  const spec = pv.spec as PvSpec;
  return {
    name: pv.metadata.name,
    size: spec.capacity?.storage,
    claim: spec.claimRef ? `${spec.claimRef.namespace}/${spec.claimRef.name}` : undefined,
    storageClass: spec.storageClassName,
  };
};

const policyOf = (pv: KubeObject) => (pv.spec as PvSpec | undefined)?.persistentVolumeReclaimPolicy;
const isBound = (pv: KubeObject) => (pv.status as { phase?: string } | undefined)?.phase === 'Bound';

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

/**
 * The claims that stay with the workloads that stay: wherever an ApplicationInstance is left, or
 * a HelmRelease (a paused application's stays when the application is deleted, and its chart's
 * workloads and claims with it).
 */
function runningVolumes(input: PersistsInput): PersistsReport['runningVolumes'] & { objects: KubeObject[] } {
  const namespaces = new Set([...input.instances, ...input.helmReleases].map((o) => o.metadata.namespace));
  const theirs = input.claims.filter((c) => namespaces.has(c.metadata.namespace));
  const bytes = theirs.reduce(
    (n, c) =>
      n + quantityBytes((c.spec as { resources?: { requests?: { storage?: string } } })?.resources?.requests?.storage),
    0,
  );
  return { claims: theirs.length, bytes, namespaces: namespaces.size, list: theirs.map(nsName), objects: theirs };
}

/** What the report is made of, before it is laid out in rows. */
type Facts = Omit<PersistsReport, 'rows'> & { input: PersistsInput };

/** How the claims that stay can go, by the steps that have run. */
function claimsAdvice(f: Facts): string {
  const { steps } = f;
  if (!steps.appsDeleted && !steps.uninstalled)
    return 'They belong to the applications that keep running: delete the applications first (kubectl vw purge --delete-apps); those of paused applications stay with their HelmReleases.';
  if (!steps.appsDeleted)
    return "The operator is uninstalled (step 5 ran before step 4): reinstall it and run kubectl vw purge --delete-apps, or delete the applications' HelmReleases, workloads and claims by hand (kubectl delete pvc NAME -n NS).";
  if (!steps.uninstalled)
    return 'Step 4 ran; the HelmReleases of paused applications stay, and their workloads and claims with them: delete those HelmReleases while Flux runs (kubectl delete helmrelease NAME -n NS), then any claim left (kubectl delete pvc NAME -n NS).';
  return "Steps 4 and 5 ran and Flux is uninstalled: nothing removes these workloads any more: delete their charts' resources and claims by hand (kubectl delete pvc NAME -n NS).";
}

function volumeRows(f: Facts): PersistsRow[] {
  const v = f.runningVolumes;
  const retain = f.retainedVolumes;
  const bound = f.boundDeleteVolumes;
  const persists = [
    ...(retain.length ? [`${retain.length} with reclaimPolicy Retain`] : []),
    ...(bound.length ? [`${bound.length} with reclaimPolicy Delete, still bound (they go when their claim goes)`] : []),
  ];
  const describe = (x: Volume, policy: string) => `${x.name} (${x.size ?? '?'}, ${policy}, claim ${x.claim ?? 'none'})`;
  const all = [...retain, ...bound];
  return [
    {
      id: 'persistent-volumes',
      resource: 'PersistentVolumes from applications',
      persists: persists.length ? `Yes: ${persists.join('; ')}` : 'No Retain volume, and no Delete volume still bound',
      facts: [],
      items: {
        noun: { one: 'PV', suffix: `, ${formatBytes(all.reduce((n, x) => n + quantityBytes(x.size), 0))}` },
        list: [...retain.map((x) => describe(x, 'Retain')), ...bound.map((x) => describe(x, 'Delete'))],
      },
      objects: all.map((x) => `PersistentVolume/${x.name}`),
      purge: `Retain PVs must be deleted manually (kubectl delete pv NAME); backend storage is untouched until the driver-specific delete runs.${bound.length ? ` Delete PVs go with their claim: ${claimsAdvice(f)}` : ''}`,
    },
    {
      id: 'claims',
      resource: 'Volumes of the workloads that stay',
      persists: v.claims ? `Yes: ${plural(v.claims, 'claim')}, ${formatBytes(v.bytes)}` : 'None',
      facts: v.claims
        ? [
            `${plural(v.claims, 'PersistentVolumeClaim')} in the ${plural(v.namespaces, 'namespace')} with ApplicationInstances or HelmReleases left`,
          ]
        : [],
      items: { noun: { one: 'PersistentVolumeClaim' }, list: v.list },
      objects: v.list.map((c) => `PersistentVolumeClaim/${c}`),
      purge: v.claims ? claimsAdvice(f) : 'Nothing left to purge.',
    },
  ];
}

/** What stays of the applications' management: their HelmReleases, and what helm uninstall leaves. */
function helmRows(f: Facts): PersistsRow[] {
  const n = f.helmReleases.length;
  const gone = f.steps.uninstalled;
  return [
    {
      id: 'helm-releases',
      resource: "The applications' HelmReleases",
      persists: n
        ? `Yes: ${n}, ${gone ? 'orphaned (Flux is uninstalled)' : 'orphaned once Flux is uninstalled (step 5)'}`
        : 'None',
      facts: [],
      items: { noun: { one: 'HelmRelease' }, list: f.helmReleases },
      objects: f.helmReleases.map((h) => `HelmRelease/${h}`),
      purge: gone
        ? 'With Flux gone nothing reconciles them or removes their finalizer: kubectl patch helmrelease NAME -n NS --type=merge -p \'{"metadata":{"finalizers":null}}\', then delete them and their charts\' resources.'
        : 'While Flux runs, deleting one uninstalls its chart cleanly (kubectl delete helmrelease NAME -n NS); once Flux is uninstalled in step 5, nothing reconciles them or removes their finalizer.',
    },
    {
      id: 'helm-kept',
      resource: 'Objects helm uninstall leaves (helm.sh/resource-policy)',
      persists: f.kept.length ? `Yes: ${f.kept.length}` : 'None',
      facts: [],
      items: { noun: { one: 'object' }, list: f.kept },
      objects: f.kept,
      purge: 'Delete each by hand once no longer needed (CRDs only after every object of their kind is gone).',
    },
  ];
}

function backupFacts(f: Facts): string[] {
  if (!f.backups.length) return [`no Velero Backup objects found (in ${f.input.velero.namespaces.join(', ')})`];
  return [
    ...f.backups.map(
      (b) =>
        `${b.storageLocation}: ${plural(b.count, 'backup')}, newest ${b.newest ?? '?'}, expire ${b.earliestExpiry ?? '?'} .. ${b.latestExpiry ?? '?'}`,
    ),
    ...(f.backupsWithoutLocation.length
      ? [
          `${plural(f.backupsWithoutLocation.length, 'backup')} whose BackupStorageLocation is gone (Velero cannot restore them until a location of that name exists again): ${f.backupsWithoutLocation.join(', ')}`,
        ]
      : []),
  ];
}

function storageRows(f: Facts): PersistsRow[] {
  const policyCounts: Record<string, number> = {};
  for (const c of f.snapshotContents) policyCounts[c.deletionPolicy] = (policyCounts[c.deletionPolicy] ?? 0) + 1;
  const snapshots = f.snapshotContents.length;
  const byVelero = f.backups.reduce((n, b) => n + b.snapshots, 0);
  const veleroFacts = byVelero
    ? [
        `${plural(byVelero, 'volume snapshot')} taken by the Velero backups above: Velero keeps CSI ones in the driver (Retain) and removes their VolumeSnapshotContents once the backup holds them`,
      ]
    : [];
  return [
    {
      id: 'velero-backups',
      resource: 'Velero backups in BackupStorageLocation (object storage)',
      persists: 'Yes',
      facts: backupFacts(f),
      objects: f.input.velero.backups.map((b) => objectId('Backup', b)),
      purge: `${f.steps.uninstalled ? 'Velero is uninstalled (step 5 ran): a restore needs Velero (or a compatible tool) installed again and pointed at the same BackupStorageLocation. ' : ''}Delete the bucket / prefix manually after confirming no further restore needs.`,
    },
    {
      id: 'csi-snapshots',
      resource: "CSI snapshots in the storage driver's snapshot store",
      persists: snapshots
        ? `Yes for Retain (${policyCounts.Retain ?? 0}), removed with their VolumeSnapshot for Delete (${policyCounts.Delete ?? 0})`
        : byVelero
          ? 'Yes (those Velero backups took)'
          : 'None found',
      facts: [
        ...(snapshots
          ? [
              `${plural(snapshots, 'VolumeSnapshotContent')}: ${Object.entries(policyCounts)
                .map(([p, n]) => `${n} ${p}`)
                .join(', ')}`,
            ]
          : []),
        ...veleroFacts,
      ],
      objects: f.snapshotContents.map((c) => `VolumeSnapshotContent/${c.name}`),
      purge: "Delete via the storage driver's tooling.",
    },
    ...volumeRows(f),
  ];
}

const odooPersists: Record<PersistsReport['odoo']['credential'], string> = {
  valid: 'Yes, credential still valid',
  revoked: 'Yes, but the credential is invalidated',
  'not-revoked': 'Yes, and the credential is NOT invalidated',
  unconfirmed: 'Yes; revocation NOT confirmed',
  unknown: 'Yes; whether the credential was revoked is unknown',
};

function odooAdvice(f: Facts): string {
  const { odoo } = f;
  if (!f.steps.decommissioned)
    return "Run step 3 first (kubectl vw decommission): Odoo revokes the credential; then delete the cluster row in Odoo's Cluster Registry.";
  return `Delete the cluster row in Odoo's Cluster Registry${
    odoo.credential === 'not-revoked' || odoo.credential === 'unconfirmed'
      ? ' and revoke its credential by hand first (unless Odoo shows it revoked).'
      : '.'
  }`;
}

function operatorRows(f: Facts): PersistsRow[] {
  const { odoo } = f;
  const secret = `${operatorNamespace}/${bootstrapCredentialSecret}`;
  return [
    {
      id: 'bootstrap-secret',
      resource: "The operator's bootstrap credential Secret",
      persists: f.bootstrapSecret ? `Yes: ${secret}` : 'No (gone)',
      facts: [],
      objects: f.bootstrapSecret ? [`Secret/${secret}`] : [],
      purge: f.bootstrapSecret
        ? 'Deleting the namespace removes it (kubectl vw purge --delete-namespace).'
        : 'Nothing left to purge.',
    },
    {
      id: 'odoo-identity',
      resource: "The cluster's identity record in Odoo",
      persists: odooPersists[odoo.credential],
      facts: [odoo.clusterID ? `cluster ID ${odoo.clusterID}` : 'cluster ID unknown', odoo.note],
      objects: [],
      purge: odooAdvice(f),
    },
    {
      id: 'odoo-audit',
      resource: 'Audit events in Odoo',
      persists: 'Yes, as part of the audit log',
      facts: [],
      objects: [],
      purge: 'Standard Odoo data retention applies; the operator does not push deletes for past audit events.',
    },
  ];
}

/** Which steps have run, from what is left. */
export const stepsRun = (input: PersistsInput): StepsRun => ({
  decommissioned: input.clusters.length === 0,
  appsDeleted: input.instances.length + input.operations.length === 0,
  uninstalled: !input.release,
  namespaceDeleted: !input.namespace,
});

/** The procedure's what-persists table, filled in with this cluster's facts. */
export function persistsFrom(input: PersistsInput): PersistsReport {
  const pvs = input.pvs;
  const running = runningVolumes(input);
  const facts: Facts = {
    steps: stepsRun(input),
    backups: backupsByLocation(input.velero.backups),
    backupsWithoutLocation: input.velero.backups
      .filter((b) => locationStanding(input.velero, b).state === 'gone')
      .map(nsName),
    snapshotContents: input.contents.map((c) => {
      const spec = c.spec as { deletionPolicy?: string; driver?: string } | undefined;
      return { name: c.metadata.name, deletionPolicy: spec?.deletionPolicy ?? 'unknown', driver: spec?.driver };
    }),
    retainedVolumes: pvs.filter((pv) => policyOf(pv) === 'Retain').map(volumeOf),
    boundDeleteVolumes: pvs.filter((pv) => policyOf(pv) === 'Delete' && isBound(pv)).map(volumeOf),
    bootstrapSecret: Boolean(input.secret),
    kept: input.kept,
    helmReleases: input.helmReleases.map(nsName),
    runningVolumes: {
      claims: running.claims,
      bytes: running.bytes,
      namespaces: running.namespaces,
      list: running.list,
    },
    odoo: odooStanding(input.clusters, input.record, input.installedAt),
    input,
  };
  const { input: _, ...report } = facts;
  return { rows: [...storageRows(facts), ...helmRows(facts), ...operatorRows(facts)], ...report };
}
