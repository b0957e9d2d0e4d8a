import type { KubeClient } from '../kube/client';
import { core, type KubeObject } from '../kube/resources';
import { bootstrapCredentialSecret, operatorNamespace, resources, veleroNamespace } from '../operator/names';
import { clusterSchema, parseObject } from '../operator/schemas';
import { type DecommissionRecord, readDecommissionRecord } from './decommission';

/** One row of the procedure's "What persists after uninstall" table, with this cluster's facts. */
export interface PersistsRow {
  resource: string;
  persists: string;
  facts: string[];
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
  odoo: {
    clusterID?: string;
    cluster?: string;
    credential: 'valid' | 'revoked' | 'not-revoked' | 'unknown';
    note: string;
  };
}

export async function persistsReport(
  client: KubeClient,
  opts: { veleroNamespace?: string; decommission?: DecommissionRecord } = {},
): Promise<PersistsReport> {
  const [backups, contents, pvs, secret, clusters, stored] = await Promise.all([
    client.listIfServed(resources.veleroBackups, { namespace: opts.veleroNamespace ?? veleroNamespace }),
    client.listIfServed(resources.volumeSnapshotContents),
    client.listIfServed(core.persistentVolumes),
    client.find(core.secrets, bootstrapCredentialSecret, operatorNamespace).catch(() => undefined),
    client.listIfServed(resources.clusters, { namespace: operatorNamespace }),
    readDecommissionRecord(client, operatorNamespace).catch(() => undefined),
  ]);

  const byLocation = new Map<string, KubeObject[]>();
  for (const b of backups) {
    const loc = (b.spec as { storageLocation?: string } | undefined)?.storageLocation ?? 'default';
    byLocation.set(loc, [...(byLocation.get(loc) ?? []), b]);
  }
  const backupRows = [...byLocation].map(([storageLocation, list]) => {
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
  const snapshotContents = contents.map((c) => {
    const spec = c.spec as { deletionPolicy?: string; driver?: string } | undefined;
    return { name: c.metadata.name, deletionPolicy: spec?.deletionPolicy ?? 'unknown', driver: spec?.driver };
  });
  const retainedVolumes = pvs
    .filter((pv) => (pv.spec as { persistentVolumeReclaimPolicy?: string })?.persistentVolumeReclaimPolicy === 'Retain')
    .map((pv) => {
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

  // The namespace (and the record in it) may be gone by now: the caller may pass what it read before.
  const record = stored ?? opts.decommission;
  const cluster = clusters.map((c) => parseObject(clusterSchema, c)).find((p) => p.ok);
  let odoo: PersistsReport['odoo'];
  if (cluster?.ok) {
    odoo = {
      cluster: cluster.value.metadata.name,
      clusterID: cluster.value.status?.clusterID,
      credential: 'valid',
      note: 'the Cluster CR still exists: step 3 has not run, the credential is still valid',
    };
  } else if (record?.outcome === 'forced') {
    odoo = {
      cluster: record.cluster,
      clusterID: record.clusterID,
      credential: 'not-revoked',
      note: `finalizer removed by force at ${record.forcedAt}: the credential was NOT revoked server-side`,
    };
  } else if (record?.outcome === 'decommissioned') {
    odoo = {
      cluster: record.cluster,
      clusterID: record.clusterID,
      credential: 'revoked',
      note: `Odoo acknowledged the decommission at ${record.finishedAt ?? '?'}: credential and keypair revoked`,
    };
  } else {
    odoo = { credential: 'unknown', note: 'no Cluster CR left and no kubectl vw record of step 3' };
  }

  const policyCounts: Record<string, number> = {};
  for (const c of snapshotContents) policyCounts[c.deletionPolicy] = (policyCounts[c.deletionPolicy] ?? 0) + 1;
  const rows: PersistsRow[] = [
    {
      resource: 'Velero backups in BackupStorageLocation (object storage)',
      persists: 'Yes',
      facts: backupRows.length
        ? backupRows.map(
            (b) =>
              `${b.storageLocation}: ${b.count} backups, newest ${b.newest ?? '?'}, expire ${b.earliestExpiry ?? '?'} .. ${b.latestExpiry ?? '?'}`,
          )
        : ['no Velero Backup objects found'],
      purge: 'Delete the bucket / prefix manually after confirming no further restore needs.',
    },
    {
      resource: "CSI snapshots in the storage driver's snapshot store",
      persists: snapshotContents.length
        ? `Yes for Retain (${policyCounts.Retain ?? 0}), removed with their VolumeSnapshot for Delete (${policyCounts.Delete ?? 0})`
        : 'None found',
      facts: snapshotContents.length
        ? [
            `${snapshotContents.length} VolumeSnapshotContents: ${Object.entries(policyCounts)
              .map(([p, n]) => `${n} ${p}`)
              .join(', ')}`,
          ]
        : [],
      purge: "Delete via the storage driver's tooling.",
    },
    {
      resource: 'PersistentVolumes from applications',
      persists: retainedVolumes.length
        ? `Yes: ${retainedVolumes.length} with reclaimPolicy Retain`
        : 'No Retain volumes found',
      facts: retainedVolumes.map((v) => `${v.name} ${v.size ?? ''} claim ${v.claim ?? '(none)'}`),
      purge:
        'Retain PVs must be deleted manually (kubectl delete pv NAME); backend storage is untouched until the driver-specific delete runs.',
    },
    {
      resource: "The operator's bootstrap credential Secret",
      persists: secret ? `Yes: ${operatorNamespace}/${bootstrapCredentialSecret}` : 'No (gone)',
      facts: [],
      purge: `Deleting the namespace removes it (kubectl vw purge --delete-namespace).`,
    },
    {
      resource: "The cluster's identity record in Odoo",
      persists:
        odoo.credential === 'not-revoked'
          ? 'Yes, and the credential is NOT invalidated'
          : odoo.credential === 'valid'
            ? 'Yes, credential still valid'
            : 'Yes, but the credential is invalidated',
      facts: [odoo.clusterID ? `cluster ID ${odoo.clusterID}` : 'cluster ID unknown', odoo.note],
      purge:
        "Delete the cluster row in Odoo's Cluster Registry" +
        (odoo.credential === 'not-revoked' ? ' and revoke its credential by hand first.' : '.'),
    },
    {
      resource: 'Audit events in Odoo',
      persists: 'Yes, as part of the audit log',
      facts: [],
      purge: 'Standard Odoo data retention applies; the operator does not push deletes for past audit events.',
    },
  ];
  return { rows, backups: backupRows, snapshotContents, retainedVolumes, bootstrapSecret: Boolean(secret), odoo };
}
