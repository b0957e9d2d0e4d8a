import type { KubeClient } from '../kube/client';
import { core, type KubeObject, withoutManagedFields } from '../kube/resources';
import { resources, veleroNamespace } from '../operator/names';

/**
 * One view of Velero for everything that judges final backups (backup, status, the gates of
 * decommission, purge and uninstall, the what-persists report): the Backups,
 * BackupStorageLocations and DeleteBackupRequests of Velero's namespace (--velero-namespace) and
 * of every namespace an Operation's backupRef names, wherever Velero runs; and the claims in
 * scope, which a Backup that was to snapshot volumes is judged against.
 */
export interface VeleroSurvey {
  /** The namespaces looked in, Velero's first. */
  namespaces: string[];
  backups: KubeObject[];
  /** The BackupStorageLocations found there, by "namespace/name". */
  locations: Map<string, KubeObject>;
  /** The DeleteBackupRequests found there: a Backup asked to be deleted does not count. */
  deleteRequests: KubeObject[];
  /** The PersistentVolumeClaims in scope (slim): what a Backup asked to snapshot volumes was to capture. */
  claims: KubeObject[];
}

/** What judging keeps of a PVC: its place, labels, age and binding (memory follows the page). */
function slimClaim(o: KubeObject): KubeObject {
  const { name, namespace, labels, creationTimestamp } = o.metadata;
  return {
    metadata: { name, namespace, labels, creationTimestamp },
    spec: { volumeName: (o.spec as { volumeName?: string } | undefined)?.volumeName },
    status: { phase: (o.status as { phase?: string } | undefined)?.phase },
  };
}

/** The claims of one namespace, or of all: listed page by page, slimmed. */
export async function listClaims(client: KubeClient, namespace?: string): Promise<KubeObject[]> {
  const claims: KubeObject[] = [];
  for await (const o of client.listItems(core.persistentVolumeClaims, { namespace })) claims.push(slimClaim(o));
  return claims;
}

/** The namespaces the Operations' backupRefs name. */
export function referencedNamespaces(operations: KubeObject[]): string[] {
  const found = new Set<string>();
  for (const op of operations) {
    const ref = (op.status as { backupRef?: { namespace?: string } } | undefined)?.backupRef;
    if (ref?.namespace) found.add(ref.namespace);
  }
  return [...found];
}

async function readNamespace(client: KubeClient, namespace: string) {
  const [backups, locations, deleteRequests] = await Promise.all([
    client.listIfServed(resources.veleroBackups, { namespace, slim: withoutManagedFields }),
    client.listIfServed(resources.backupStorageLocations, { namespace, slim: withoutManagedFields }),
    client.listIfServed(resources.deleteBackupRequests, { namespace, slim: withoutManagedFields }),
  ]);
  return { backups, locations, deleteRequests };
}

/**
 * Surveys Velero: its own namespace is read beside the Operations (one round trip), the other
 * namespaces their backupRefs name once they are known.
 */
export async function surveyVelero(
  client: KubeClient,
  opts: {
    veleroNamespace?: string;
    operations: KubeObject[] | Promise<KubeObject[]>;
    /** Whose claims to read: a namespace, every one (undefined), or none (false). */
    claims?: { namespace?: string } | false;
  },
): Promise<VeleroSurvey> {
  const home = opts.veleroNamespace || veleroNamespace;
  const homeRead = readNamespace(client, home);
  homeRead.catch(() => undefined); // read below; never an unhandled rejection meanwhile
  const claimsRead = opts.claims === false ? Promise.resolve([]) : listClaims(client, opts.claims?.namespace);
  claimsRead.catch(() => undefined);
  const operations = await opts.operations;
  const others = referencedNamespaces(operations).filter((ns) => ns !== home);
  const reads = await Promise.all([homeRead, ...others.map((ns) => readNamespace(client, ns))]);
  const locations = new Map<string, KubeObject>();
  for (const l of reads.flatMap((r) => r.locations)) locations.set(`${l.metadata.namespace}/${l.metadata.name}`, l);
  return {
    namespaces: [home, ...others],
    backups: reads.flatMap((r) => r.backups),
    locations,
    deleteRequests: reads.flatMap((r) => r.deleteRequests),
    claims: await claimsRead,
  };
}

/** A Velero Backup's storage location, as "namespace/name" (Velero writes it on the Backup when it validates it). */
export const locationOf = (backup: KubeObject) => {
  const name = (backup.spec as { storageLocation?: string } | undefined)?.storageLocation;
  return name ? `${backup.metadata.namespace}/${name}` : undefined;
};

export type LocationState = 'available' | 'unavailable' | 'gone' | 'unknown';

/**
 * Where a Backup's location stands: present (and its phase), gone from a namespace that was read,
 * or unknown (no location named, or its namespace not read): absence of evidence is not "gone".
 */
export function locationStanding(
  survey: Pick<VeleroSurvey, 'namespaces' | 'locations'>,
  backup: KubeObject,
): { key?: string; state: LocationState; phase?: string } {
  const key = locationOf(backup);
  if (!key) return { state: 'unknown' };
  const bsl = survey.locations.get(key);
  if (!bsl) return { key, state: survey.namespaces.includes(backup.metadata.namespace ?? '') ? 'gone' : 'unknown' };
  const phase = (bsl.status as { phase?: string } | undefined)?.phase;
  return { key, state: phase === 'Unavailable' ? 'unavailable' : 'available', phase };
}
