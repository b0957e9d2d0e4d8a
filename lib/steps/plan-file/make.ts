import { goDurationText, parseGoDuration } from '../../duration';
import type { KubeClient } from '../../kube/client';
import { readClusterIdentity } from '../../kube/identity';
import { core, type KubeObject } from '../../kube/resources';
import { whoAmI } from '../../kube/whoami';
import { finalBackupCounts } from '../../operator/final-backup';
import { deletedBy, keptBy, type ReleaseObject } from '../../operator/helm-release';
import { finalBackupSuffix, operatorCrds, operatorNamespace, planAnnotation, resources } from '../../operator/names';
import { type BackupPlan, type BackupPlanItem, planBackup } from '../backup/plan';
import { type DecommissionPlan, planDecommission } from '../decommission/plan';
import { type AppFinalBackup, type JudgeOptions, surveyFinalBackups } from '../final-backups';
import type { InstancePlan } from '../instance-step';
import { planPause } from '../pause';
import { persistsReport } from '../persists';
import { type PurgePlan, planPurge } from '../purge/plan';
import type { Selection } from '../selection';
import { type ProcedureStatus, procedureStatus } from '../status/judge';
import {
  digestOf,
  type PlanActions,
  type PlannedApplication,
  type PlannedBackup,
  type PlannedObject,
  type PlannedRelease,
  type PlanOptions,
  planApiVersion,
  planKind,
  type UninstallPlan,
} from './document';

export interface MakeContext {
  now: number;
  tool: string;
  /** Only what drift is judged by: no what-persists report, no caller. */
  forDrift?: boolean;
}

/** What the step plans read, each by the step's own plan function: the same reads a run makes. */
interface Read {
  status: ProcedureStatus;
  pause?: InstancePlan;
  survey: AppFinalBackup[];
  backup?: BackupPlan;
  decommission?: DecommissionPlan;
  purge: PurgePlan;
  operations: KubeObject[];
  crds: KubeObject[];
  namespace?: KubeObject;
}

const judgeOf = (o: PlanOptions, now: number): JudgeOptions => ({
  now,
  marginMs: parseGoDuration(o.expiryMargin) ?? 24 * 3_600_000,
  veleroNamespace: o.veleroNamespace,
});

const needed = (status: ProcedureStatus, n: number) => {
  const s = status.steps.find((x) => x.step === n);
  return Boolean(s && s.state !== 'done' && s.state !== 'skipped');
};

/** Every step's plan, as uninstall would make it now: later steps as if the earlier ones had run. */
async function readPlans(client: KubeClient, o: PlanOptions, now: number): Promise<Read> {
  const judge = judgeOf(o, now);
  const status = await procedureStatus(client, judge);
  const installed = status.facts.crds.length === operatorCrds.length;
  const selection: Selection = { names: [], namespace: client.target.namespace, allNamespaces: true };
  const step2 = status.steps.find((s) => s.step === 2);
  const [pause, survey, backup, decommission, purge, operations, crds, namespace] = await Promise.all([
    installed
      ? planPause(
          client,
          { selection, suspendHelmReleases: o.suspendHelmReleases, allHelmReleases: false },
          new Date(now).toISOString(),
        )
      : undefined,
    installed ? surveyFinalBackups(client, judge) : [],
    installed && !o.skipBackup && needed(status, 2)
      ? planBackup(client, {
          selection,
          parameters: {
            ttl: o.ttl ?? '',
            storageLocation: o.storageLocation,
            snapshotVolumes: true,
            csiSnapshotClassName: 'csi-rbd',
            nameSuffix: finalBackupSuffix,
          },
          veleroNamespace: o.veleroNamespace,
          retryFailed: step2?.state === 'blocked',
          requireAvailableLocation: false,
          judge,
        })
      : undefined,
    installed && status.facts.namespace
      ? planDecommission(client, { namespace: operatorNamespace, skipBackupCheck: o.skipBackup, judge })
      : undefined,
    planPurge(client, { ...o, skipBackupCheck: o.skipBackup, forcePreflight: true, judge }),
    installed && o.deleteApps ? client.listIfServed(resources.operations, { metadataOnly: true }) : [],
    o.deleteCrds ? Promise.all(operatorCrds.map((n) => client.find(core.crds, n))) : [],
    o.deleteNamespace ? client.find(core.namespaces, operatorNamespace) : undefined,
  ]);
  const found = (crds as (KubeObject | undefined)[]).filter((c): c is KubeObject => Boolean(c));
  return { status, pause, survey, backup, decommission, purge, operations, crds: found, namespace };
}

const planOf = (o: KubeObject | undefined) => o?.metadata.annotations?.[planAnnotation];

/** An application's final backup: step 2's action, and the Operation (and Velero Backup) it stands on. */
function plannedBackup(
  o: PlanOptions,
  item: BackupPlanItem | undefined,
  app: AppFinalBackup | undefined,
): PlannedBackup {
  const v = app?.verdict;
  const op = item?.existing ?? v?.operation;
  const counts = v && finalBackupCounts(v.state);
  const action = o.skipBackup ? 'skip' : (item?.action ?? (counts ? 'keep' : 'none'));
  return {
    action,
    operation: item?.operation ?? op?.metadata.name ?? '',
    state: item?.state ?? v?.state ?? 'missing',
    ...(v?.detail ? { detail: v.detail } : {}),
    note: o.skipBackup ? '--skip-backup: no final backup is taken' : (item?.note ?? v?.detail),
    operationUID: op?.metadata.uid,
    ...(counts && v?.backup
      ? {
          veleroBackup: {
            name: v.backup.metadata.name,
            uid: v.backup.metadata.uid,
            expires: v.backup.status?.expiration,
          },
        }
      : {}),
    ...(planOf(op as KubeObject | undefined) ? { plan: planOf(op as KubeObject) } : {}),
  };
}

const keyOf = (ns: string | undefined, name: string) => `${ns}/${name}`;

/** Steps 1, 2 and 4, per application, by uid. */
function applicationsOf(o: PlanOptions, r: Read): PlannedApplication[] {
  const items = new Map((r.backup?.items ?? []).map((i) => [keyOf(i.namespace, i.application), i]));
  const survey = new Map(r.survey.map((a) => [keyOf(a.namespace, a.application), a]));
  return (r.pause?.changes ?? [])
    .filter((c) => c.resource.kind === resources.applicationInstances.kind)
    .map((c) => {
      const key = keyOf(c.namespace, c.name);
      return {
        namespace: c.namespace ?? '',
        name: c.name,
        uid: c.seen?.metadata.uid ?? '',
        pause: c.action,
        ...(c.note ? { pauseNote: c.note } : {}),
        finalBackup: plannedBackup(o, items.get(key), survey.get(key)),
        delete: o.deleteApps,
      };
    });
}

const describeObject = (x: ReleaseObject) => `${x.kind}/${x.namespace ? `${x.namespace}/` : ''}${x.name}`;

function releaseOf(purge: PurgePlan): PlannedRelease | null {
  const r = purge.release;
  if (!r) return null;
  return {
    namespace: r.namespace,
    name: r.name,
    revision: r.version,
    storageUID: r.storageUid ?? null,
    chart: r.chart,
    status: r.status,
    driver: r.driver,
    deletes: deletedBy(r).map(describeObject),
    keeps: keptBy(r).map(describeObject),
  };
}

const objectOf = (x: KubeObject, action?: string): PlannedObject => ({
  ...(x.metadata.namespace ? { namespace: x.metadata.namespace } : {}),
  name: x.metadata.name,
  uid: x.metadata.uid ?? '',
  ...(action ? { action } : {}),
  ...(planOf(x) ? { plan: planOf(x) } : {}),
});

function actionsOf(o: PlanOptions, r: Read): PlanActions {
  const cluster = r.decommission?.cluster;
  return {
    applications: applicationsOf(o, r),
    helmReleases: (r.pause?.changes ?? [])
      .filter((c) => c.resource.kind === resources.helmReleases.kind && c.seen)
      .map((c) => objectOf(c.seen as KubeObject, c.action)),
    cluster: cluster
      ? {
          namespace: cluster.metadata.namespace ?? operatorNamespace,
          name: cluster.metadata.name,
          uid: cluster.metadata.uid ?? '',
          clusterID: cluster.status?.clusterID ?? null,
          action: cluster.metadata.deletionTimestamp ? 'follow' : 'delete',
        }
      : null,
    operations: r.operations.map((x) => objectOf(x, 'delete')),
    release: releaseOf(r.purge),
    crds: r.crds.map((x) => objectOf(x, 'delete')),
    namespace: r.namespace ? objectOf(r.namespace, 'delete') : null,
  };
}

/** What will stop the run, as the steps' own plans see it now. */
function warningsOf(r: Read, apps: PlannedApplication[]): string[] {
  const pausing = new Set(apps.filter((a) => a.pause === 'pause').map((a) => `${a.namespace}/${a.name}`));
  const out: string[] = [];
  for (const i of r.backup?.items ?? [])
    if (i.action === 'conflict' || i.action === 'failed')
      out.push(`step 2 stops at ${i.namespace}/${i.application}: ${i.operation} ${i.note ?? i.action}`);
  for (const w of r.backup?.warnings ?? [])
    if (![...pausing].some((k) => w.startsWith(`${k} is not paused`))) out.push(w);
  for (const c of r.decommission?.checks ?? [])
    if (!c.ok && (c.name === 'operator running' || c.name === 'Odoo reachable'))
      out.push(`step 3 would be refused now: ${c.name}: ${c.detail}`);
  return out;
}

async function persistsOf(client: KubeClient, o: PlanOptions, purge: PurgePlan): Promise<UninstallPlan['persists']> {
  const report = await persistsReport(client, { kept: purge.kept, veleroNamespace: o.veleroNamespace });
  return report.rows.map((row) => ({
    resource: row.resource,
    persists: row.persists,
    here: [
      ...row.facts,
      ...(row.items?.list.length
        ? [
            `${row.items.list.length} ${row.items.noun.many ?? `${row.items.noun.one}s`}: ${row.items.list.slice(0, 20).join(', ')}${row.items.list.length > 20 ? ', ...' : ''}`,
          ]
        : []),
    ],
    purge: row.purge,
  }));
}

/**
 * The plan of a whole uninstall with these options, from the cluster as it is: read-only (no
 * lock, no write), each step planned by its own plan function.
 */
export async function makePlan(client: KubeClient, options: PlanOptions, ctx: MakeContext): Promise<UninstallPlan> {
  return (await planAndFacts(client, options, ctx)).plan;
}

/** The live cluster as a plan of the same options, and whether the operator's CRDs are still there. */
export async function planAndFacts(client: KubeClient, options: PlanOptions, ctx: MakeContext) {
  const [identity, read, caller] = await Promise.all([
    readClusterIdentity(client),
    readPlans(client, options, ctx.now),
    ctx.forDrift ? undefined : whoAmI(client),
  ]);
  const actions = actionsOf(options, read);
  const content: Omit<UninstallPlan, 'digest'> = {
    apiVersion: planApiVersion,
    kind: planKind,
    metadata: { createdAt: new Date(ctx.now).toISOString(), createdBy: caller?.username ?? '', tool: ctx.tool },
    target: {
      ...identity,
      cluster: actions.cluster ? { uid: actions.cluster.uid, clusterID: actions.cluster.clusterID } : null,
    },
    options: { ...options, expiryMargin: goDurationText(judgeOf(options, ctx.now).marginMs) },
    steps: read.status.steps.map((s) => ({ step: s.step, name: s.name, state: s.state })),
    actions,
    persists: ctx.forDrift ? [] : await persistsOf(client, options, read.purge),
    warnings: warningsOf(read, actions.applications),
  };
  const plan: UninstallPlan = { ...content, digest: digestOf(content) };
  return { plan, crdsInstalled: read.status.facts.crds.length === operatorCrds.length };
}
