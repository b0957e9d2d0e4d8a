import type { AccessCheck } from '../kube/access';
import { core, type ResourceType } from '../kube/resources';
import type { HelmDriver } from '../operator/helm-release';
import { operatorNamespace, resources, toolNamespace } from '../operator/names';
import type { DryRunMode } from './results';

// What each command needs from the API server, for each combination of its flags: one
// declaration, from which the preflight's access review (SelfSubjectAccessReview, before any
// change), `kubectl vw rbac` (the Roles and ClusterRoles to grant) and the README's RBAC table
// all come. A request a command makes that is not declared here is a defect: the least-privilege
// suite runs every command as a ServiceAccount bound to exactly these rules.

/** One verb on one resource, in one namespace (undefined: every namespace, or cluster-scoped), and why. */
export interface Need extends AccessCheck {
  why: string;
}

type Target = Pick<ResourceType, 'group' | 'plural'>;

/** The verbs on a resource in a namespace (undefined: all namespaces, or a cluster-scoped resource). */
const on = (r: Target, namespace: string | undefined, verbs: string[], why: string): Need[] =>
  verbs.map((verb) => ({ verb, group: r.group, resource: r.plural, ...(namespace ? { namespace } : {}), why }));

const ai = resources.applicationInstances;
const ops = resources.operations;
const hrs = resources.helmReleases;
const backups = resources.veleroBackups;
const locations = resources.backupStorageLocations;

/** Every command reads the operator's CRDs first: is the operator installed on this cluster? */
const crds = on(core.crds, undefined, ['get'], "the operator's CRDs are installed");

/** The lock every mutating run holds (a Lease in kube-system): read, taken, renewed, watched while another holds it. */
export const lockNeeds = on(
  core.leases,
  toolNamespace,
  ['get', 'list', 'watch', 'create', 'update'],
  'the lock (Lease kubectl-vw): two runs never overlap',
);

const lockIf = (dryRun: DryRunMode) => (dryRun === 'none' ? lockNeeds : []);
const writes = (dryRun: DryRunMode) => dryRun !== 'client';

/** What step 3's record is read from (kube-system); decommission also writes it. */
const recordRead = on(core.configMaps, toolNamespace, ['get'], 'the step 3 record (ConfigMap kubectl-vw-decommission)');

/**
 * The operator's helm release, read from its storage (no helm binary needed to plan): Secrets,
 * else ConfigMaps (a release stored with HELM_DRIVER=configmap).
 */
const releaseRead = [
  ...on(core.secrets, operatorNamespace, ['list'], "the operator's helm release (its storage Secrets)"),
  ...on(core.configMaps, operatorNamespace, ['list'], "the operator's helm release, if stored in ConfigMaps"),
];

/** Velero, surveyed where it runs: its Backups, storage locations and deletion requests. */
const veleroRead = (veleroNamespace: string) => [
  ...on(backups, veleroNamespace, ['list'], 'Velero Backups of the final backups'),
  ...on(
    locations,
    veleroNamespace,
    ['list'],
    "Velero's storage locations (a backup whose location is gone does not count)",
  ),
  ...on(
    resources.deleteBackupRequests,
    veleroNamespace,
    ['list'],
    "Velero's deletion requests (a backup asked to be deleted does not count)",
  ),
];

/** Judging final backups: the applications, their Operations, Velero, and the volumes a backup was to capture. */
const judgeRead = (scope: string | undefined, veleroNamespace: string) => [
  ...on(ai, scope, ['list'], 'the applications'),
  ...on(ops, scope, ['list'], 'their final-backup Operations'),
  ...veleroRead(veleroNamespace),
  ...on(
    core.persistentVolumeClaims,
    scope,
    ['list'],
    'the claims a final backup covered (one that captured none of them does not count)',
  ),
];

export interface InstanceStepNeeds {
  dryRun: DryRunMode;
  /** The selection's namespace; undefined: every namespace. */
  scope?: string;
  /** The step lists and patches HelmReleases too. */
  helmReleases: boolean;
  wait: boolean;
}

/** pause and resume: list, patch (re-read on a conflict), and watch until the operator reports. */
export function instanceStepNeeds(o: InstanceStepNeeds): Need[] {
  const patch = writes(o.dryRun) ? ['get', 'patch'] : [];
  return [
    ...crds,
    ...on(ai, o.scope, ['list', ...patch], 'the ApplicationInstances selected, annotated'),
    ...(o.wait && o.dryRun === 'none' ? on(ai, o.scope, ['watch'], 'waiting for the operator to report') : []),
    ...(o.helmReleases ? on(hrs, o.scope, ['list', ...patch], 'their Flux HelmReleases (spec.suspend)') : []),
    ...lockIf(o.dryRun),
  ];
}

export interface BackupNeeds {
  dryRun: DryRunMode;
  scope?: string;
  retryFailed: boolean;
  veleroNamespace: string;
  wait: boolean;
}

/** backup: the storage location, the survey, the Operations it creates (and deletes to retry), the waits. */
export function backupNeeds(o: BackupNeeds): Need[] {
  const live = o.dryRun === 'none';
  return [
    ...crds,
    ...on(locations, o.veleroNamespace, ['get'], 'the storage location the Operations name'),
    ...judgeRead(o.scope, o.veleroNamespace),
    ...(writes(o.dryRun) ? on(ops, o.scope, ['get', 'create'], 'the final-backup Operations created') : []),
    ...(writes(o.dryRun) && o.retryFailed ? on(ops, o.scope, ['delete'], 'a Failed Operation, deleted to retry') : []),
    ...(writes(o.dryRun) && o.retryFailed
      ? on(ai, o.scope, ['get'], "a retry's fresh read of its application, at the moment of the delete")
      : []),
    ...(live && (o.wait || o.retryFailed) ? on(ops, o.scope, ['watch'], 'waiting for the Operations') : []),
    ...(live && o.wait ? on(backups, o.veleroNamespace, ['watch'], 'waiting for the Velero Backups') : []),
    ...lockIf(o.dryRun),
  ];
}

export interface DecommissionNeeds {
  dryRun: DryRunMode;
  /** Where the Cluster lives (-n, default vworkspace-system). */
  namespace: string;
  force: boolean;
  skipBackupCheck: boolean;
  veleroNamespace: string;
}

/** decommission: the preflight's reads, the Cluster's deletion and its finalizer, the step 3 record. */
export function decommissionNeeds(o: DecommissionNeeds): Need[] {
  const clusters = resources.clusters;
  return [
    ...crds,
    ...on(clusters, o.namespace, ['get', 'list', 'watch'], 'the Cluster CR, followed until it is gone'),
    ...on(ai, undefined, ['list'], 'the preflight: every application paused'),
    ...(o.skipBackupCheck ? [] : judgeRead(undefined, o.veleroNamespace)),
    ...releaseRead,
    ...on(core.deployments, operatorNamespace, ['get', 'list'], "the preflight: the operator's Deployments available"),
    ...recordRead,
    ...(writes(o.dryRun) ? on(clusters, o.namespace, ['delete'], 'step 3: the Cluster CR deleted') : []),
    ...(o.dryRun === 'none'
      ? [
          ...on(clusters, o.namespace, ['patch'], "kubectl vw's observer finalizer, and --force's removal"),
          ...on(core.configMaps, toolNamespace, ['create', 'patch'], 'the step 3 record written'),
        ]
      : []),
    ...(o.force && writes(o.dryRun) ? on(core.events, o.namespace, ['create'], 'an Event for the forced removal') : []),
    ...lockIf(o.dryRun),
  ];
}

/** A resource helm uninstall deletes: one kind of object of the release, where it lives. */
export interface ReleaseResource extends Target {
  namespace?: string;
}

export interface PurgeNeeds {
  dryRun: DryRunMode;
  report: boolean;
  deleteApps: boolean;
  deleteCrds: boolean;
  deleteNamespace: boolean;
  skipBackupCheck: boolean;
  veleroNamespace: string;
  /** What the release renders, by resource, when it was read; undefined: not read (yet). */
  release?: ReleaseResource[];
  /** The kinds of the other CRDs helm uninstall deletes, whose objects the plan counts. */
  otherCrds?: Target[];
  /** Where helm keeps the release (HELM_DRIVER): its records are read, updated and deleted there. */
  driver?: HelmDriver;
}

/** What the what-persists report reads. */
function reportNeeds(veleroNamespace: string): Need[] {
  const why = 'the what-persists report';
  return [
    ...on(ai, undefined, ['list'], why),
    ...on(ops, undefined, ['list'], why),
    ...on(resources.clusters, operatorNamespace, ['list'], why),
    ...on(hrs, undefined, ['list'], why),
    ...veleroRead(veleroNamespace),
    ...on(resources.volumeSnapshotContents, undefined, ['list'], why),
    ...on(core.persistentVolumes, undefined, ['list'], why),
    ...on(core.persistentVolumeClaims, undefined, ['list'], why),
    ...on(core.secrets, operatorNamespace, ['get', 'list'], `${why}: the bootstrap credential, what helm keeps`),
    ...on(core.namespaces, undefined, ['get'], `${why}: is ${operatorNamespace} still there`),
    ...on(core.crds, undefined, ['list'], `${why}: the CRDs helm kept`),
    ...recordRead,
  ];
}

/**
 * helm uninstall: its release records (read, marked uninstalling, deleted) and every object of
 * the release (deleted, then polled until gone); helm uninstall --dry-run only reads the records.
 */
function helmNeeds(dryRun: DryRunMode, release: ReleaseResource[] | undefined, driver?: HelmDriver): Need[] {
  const records = 'helm uninstall: its release records';
  const storage = driver === 'configmap' ? core.configMaps : core.secrets;
  if (dryRun !== 'none') return dryRun === 'server' ? on(storage, operatorNamespace, ['get', 'list'], records) : [];
  const objects = (release ?? []).flatMap((r) =>
    on(r, r.namespace, ['get', 'delete'], 'helm uninstall: an object of the release (deleted, then waited for)'),
  );
  return [
    ...on(storage, operatorNamespace, ['get', 'list', 'update', 'delete'], records),
    ...on(core.configMaps, toolNamespace, ['patch'], 'the step 3 record kept as superseded by a later installation'),
    ...objects,
  ];
}

/** purge: the plan's reads, each phase's deletions and waits, the report; or only the report. */
export function purgeNeeds(o: PurgeNeeds): Need[] {
  if (o.report) return [...crds, ...reportNeeds(o.veleroNamespace)];
  const live = o.dryRun === 'none';
  const del = writes(o.dryRun) ? ['delete'] : [];
  const plan = [
    ...on(core.namespaces, undefined, ['get'], `the plan: is ${operatorNamespace} there`),
    ...on(
      resources.clusters,
      undefined,
      ['list'],
      'the plan: Cluster CRs left (step 3 done?), custom resources counted',
    ),
    ...on(ai, undefined, ['list'], 'the plan: custom resources left, counted'),
    ...on(ops, undefined, ['list'], 'the plan: custom resources left, counted'),
    ...(o.deleteApps && !o.skipBackupCheck ? judgeRead(undefined, o.veleroNamespace) : []),
    ...releaseRead,
    ...(o.otherCrds ?? []).flatMap((r) =>
      on(r, undefined, ['list'], 'the plan: objects of a CRD helm uninstall deletes, counted'),
    ),
  ];
  const step4 = o.deleteApps
    ? [
        ...on(ai, undefined, [...del, ...(live ? ['watch'] : [])], 'step 4: ApplicationInstances deleted, waited for'),
        ...on(ops, undefined, [...del, ...(live ? ['watch'] : [])], 'step 4: Operations deleted, waited for'),
      ]
    : [];
  return [
    ...crds,
    ...plan,
    ...step4,
    ...helmNeeds(o.dryRun, o.release, o.driver),
    ...(o.deleteCrds
      ? on(core.crds, undefined, ['list', ...del, ...(live ? ['watch'] : [])], "the operator's CRDs deleted")
      : []),
    ...(o.deleteNamespace
      ? on(
          core.namespaces,
          undefined,
          ['list', ...del, ...(live ? ['watch'] : [])],
          `namespace ${operatorNamespace} deleted`,
        )
      : []),
    ...reportNeeds(o.veleroNamespace),
    ...lockIf(o.dryRun),
  ];
}

/** status: read-only, everything the five steps are judged by. */
export function statusNeeds(o: { veleroNamespace: string }): Need[] {
  return [
    ...crds,
    ...on(core.namespaces, undefined, ['get'], `is ${operatorNamespace} there`),
    ...on(ai, undefined, ['list'], 'step 1, step 4'),
    ...on(ops, undefined, ['list'], 'step 2, step 4'),
    ...on(resources.clusters, operatorNamespace, ['list'], 'step 3'),
    ...on(hrs, undefined, ['list'], 'step 1: HelmReleases suspended'),
    ...veleroRead(o.veleroNamespace),
    ...on(core.persistentVolumeClaims, undefined, ['list'], 'step 2: the claims a final backup covered'),
    ...releaseRead,
    ...recordRead,
  ];
}

/** The same need twice (a verb on a resource in a namespace) is asked once. */
export function dedupeNeeds(needs: Need[]): Need[] {
  const seen = new Map<string, Need>();
  for (const n of needs) {
    const key = `${n.verb} ${n.group}/${n.resource} ${n.namespace ?? ''}`;
    if (!seen.has(key)) seen.set(key, n);
  }
  // A namespaced need is met by the same verb in every namespace: ask only the wider one.
  return [...seen.values()].filter((n) => !n.namespace || !seen.has(`${n.verb} ${n.group}/${n.resource} `));
}

/** An RBAC PolicyRule, with why each of its verbs is needed. */
export interface Rule {
  apiGroup: string;
  resource: string;
  verbs: string[];
  why: string[];
}

/** Needs as RBAC grants them: cluster-wide rules (a ClusterRole) and rules per namespace (a Role each). */
export interface Grants {
  cluster: Rule[];
  namespaces: Map<string, Rule[]>;
}

const verbOrder = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
const byVerb = (a: string, b: string) => verbOrder.indexOf(a) - verbOrder.indexOf(b);

function rulesOf(needs: Need[]): Rule[] {
  const rules = new Map<string, Rule>();
  for (const n of needs) {
    const key = `${n.group}/${n.resource}`;
    const rule = rules.get(key) ?? { apiGroup: n.group, resource: n.resource, verbs: [], why: [] };
    if (!rule.verbs.includes(n.verb)) rule.verbs.push(n.verb);
    if (!rule.why.includes(n.why)) rule.why.push(n.why);
    rules.set(key, rule);
  }
  return [...rules.values()]
    .map((r) => ({ ...r, verbs: r.verbs.sort(byVerb) }))
    .sort((a, b) => `${a.apiGroup}/${a.resource}`.localeCompare(`${b.apiGroup}/${b.resource}`));
}

/** Groups needs into what to grant: cluster-wide, and per namespace (minus what cluster-wide already grants). */
export function grantsFor(needs: Need[]): Grants {
  const unique = dedupeNeeds(needs);
  const namespaces = new Map<string, Rule[]>();
  const inNamespace = new Map<string, Need[]>();
  for (const n of unique.filter((x) => x.namespace))
    inNamespace.set(n.namespace as string, [...(inNamespace.get(n.namespace as string) ?? []), n]);
  for (const [ns, list] of [...inNamespace].sort(([a], [b]) => a.localeCompare(b))) namespaces.set(ns, rulesOf(list));
  return { cluster: rulesOf(unique.filter((x) => !x.namespace)), namespaces };
}
