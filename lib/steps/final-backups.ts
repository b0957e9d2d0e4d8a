import { plural } from '../plural';
import type { KubeClient } from '../kube/client';
import { type KubeObject, withoutManagedFields } from '../kube/resources';
import {
  bestVerdict,
  describeOperation,
  type FinalBackupState,
  type FinalBackupVerdict,
  finalBackupCounts,
  isFinalBackupOf,
  judgeFinalBackup,
  backupCapable,
  isVeleroFinal,
  pausedAt,
} from '../operator/final-backup';
import { defaultStorageLocation, finalBackupName, finalBackupSuffix, resources } from '../operator/names';
import { type HintFlags, procedureTtl, vwCommand, withNextSuffix } from './hints';
import {
  claimSchema,
  deleteBackupRequestSchema,
  type Operation,
  operationSchema,
  parseObject,
  type VeleroBackup,
  veleroBackupSchema,
} from '../operator/schemas';
import { describeVeleroPhase, veleroEvidence } from '../operator/velero-backup';
import type { PreflightCheck } from './preflight';
import { locationStanding, surveyVelero, type VeleroSurvey } from './velero';

/** One application's final backup, judged from its candidates. */
export interface AppFinalBackup {
  namespace: string;
  application: string;
  /** The ApplicationInstance's uid: what a plan names it by. */
  uid?: string;
  verdict: FinalBackupVerdict;
  /** Every Operation that is this application's final backup, by what it is. */
  candidates: Operation[];
  /** An Operation under the procedure's name that is not a backup of this application. */
  conflict?: Operation;
  /** It counts, but its BackupStorageLocation is Unavailable: said in the gate. */
  warning?: string;
}

export interface JudgeOptions {
  now: number;
  marginMs: number;
  /** Where Velero runs (default velero); Backups are followed wherever backupRefs point too. */
  veleroNamespace?: string;
  /** The run's own flags, for the commands its hints name. */
  hint?: HintFlags;
}

const key = (ns: string | undefined, name: string) => `${ns}/${name}`;

/** The Velero Backups the Operations point at, by "namespace/name". */
function backupIndex(backups: KubeObject[]) {
  const index = new Map<string, VeleroBackup>();
  for (const raw of backups) {
    const b = parseObject(veleroBackupSchema, raw);
    if (b.ok) index.set(key(b.value.metadata.namespace, b.value.metadata.name), b.value);
  }
  return index;
}

/**
 * A Completed backup whose BackupStorageLocation is gone cannot be restored through Velero: it
 * does not count. One whose location is Unavailable counts, with a warning.
 */
function withLocation(v: FinalBackupVerdict, survey: VeleroSurvey | undefined): FinalBackupVerdict {
  if (!survey || v.state !== 'counts' || !v.backup) return v;
  const at = locationStanding(survey, v.backup as KubeObject);
  if (at.state !== 'gone') return v;
  return {
    ...v,
    state: 'location-missing',
    detail: `Velero backup Completed, but its BackupStorageLocation ${at.key} is gone: Velero cannot restore it`,
  };
}

/**
 * Whatever the verdict rests on, Velero's record of the attempt is shown with it (a running
 * Operation's Backup Queued, say); a Failed Operation's that ended badly, with Velero's own
 * reasons beside the operator's (FailedValidation, say).
 */
function withVeleroRecord(v: FinalBackupVerdict, found: VeleroBackup | undefined): FinalBackupVerdict {
  const backup = v.backup ?? found;
  if (!backup) return v;
  const phase = backup.status?.phase ?? '';
  const told = v.state === 'failed' && phase !== 'Completed' && isVeleroFinal(backup);
  return { ...v, backup, ...(told ? { detail: `${v.detail}: ${describeVeleroPhase(backup)}` } : {}) };
}

const parsedAll = <T>(schema: Parameters<typeof parseObject<T>>[0], raw: KubeObject[]) =>
  raw.flatMap((o) => {
    const p = parseObject(schema, o);
    return p.ok ? [p.value] : [];
  });

function locationWarning(v: FinalBackupVerdict, survey: VeleroSurvey | undefined): string | undefined {
  if (!survey || v.state !== 'counts' || !v.backup) return undefined;
  const at = locationStanding(survey, v.backup as KubeObject);
  return at.state === 'unavailable' ? `its BackupStorageLocation ${at.key} is Unavailable` : undefined;
}

/**
 * Judges every application's final backup from three lists (instances, Operations, Velero
 * Backups), and, given Velero's survey, its DeleteBackupRequests, storage locations and the
 * claims in scope: no request per application, so thousands of them stay cheap. Pure.
 */
export function judgeApps(
  instances: KubeObject[],
  operations: KubeObject[],
  backups: KubeObject[] | VeleroSurvey,
  opts: JudgeOptions,
): AppFinalBackup[] {
  const survey = Array.isArray(backups) ? undefined : backups;
  const velero = backupIndex(Array.isArray(backups) ? backups : backups.backups);
  const evidence = survey
    ? veleroEvidence(parsedAll(deleteBackupRequestSchema, survey.deleteRequests), parsedAll(claimSchema, survey.claims))
    : undefined;
  // Indexed once, in list order, so each application looks only at its own: thousands stay linear.
  const byTarget = new Map<string, Operation[]>();
  const byName = new Map<string, Operation>();
  for (const raw of operations) {
    const op = parseObject(operationSchema, raw);
    if (!op.ok) continue; // an Operation that does not parse is nobody's final backup
    const ns = op.value.metadata.namespace ?? '';
    const target = key(ns, op.value.spec.targetRef.name);
    const same = byTarget.get(target);
    if (same) same.push(op.value);
    else byTarget.set(target, [op.value]);
    const named = key(ns, op.value.metadata.name);
    if (!byName.has(named)) byName.set(named, op.value);
  }
  return instances.map((ai) => {
    const namespace = ai.metadata.namespace ?? '';
    const application = ai.metadata.name;
    const candidates = (byTarget.get(key(namespace, application)) ?? []).filter((op) =>
      isFinalBackupOf(op, application),
    );
    const ctx = { ...opts, pausedAt: pausedAt(ai), capable: backupCapable(ai), velero: evidence };
    const verdicts = candidates.map((op) => {
      const ref = op.status?.backupRef;
      const backup = ref ? velero.get(key(ref.namespace, ref.name)) : undefined;
      return withLocation(withVeleroRecord(judgeFinalBackup(op, backup, ctx), backup), survey);
    });
    const procedureName = finalBackupName(application, finalBackupSuffix);
    const named = byName.get(key(namespace, procedureName));
    const conflict = named && !candidates.includes(named) ? named : undefined;
    const verdict = bestVerdict(verdicts);
    return {
      namespace,
      application,
      uid: ai.metadata.uid,
      verdict,
      candidates,
      conflict,
      warning: locationWarning(verdict, survey),
    };
  });
}

/**
 * What judging an application (its final backup, whether it is paused) reads of it: a read-only
 * list keeps only this, page by page, so memory follows the page size rather than every spec.
 */
export function judgedInstance(o: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, labels, annotations } = o.metadata;
  const backup = (o.spec as { backup?: unknown } | undefined)?.backup;
  const status = o.status as { conditions?: unknown[]; helmReleaseRef?: unknown } | undefined;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, uid, resourceVersion, labels, annotations },
    spec: backup === undefined ? {} : { backup },
    status: { conditions: status?.conditions, helmReleaseRef: status?.helmReleaseRef },
  };
}

/** Lists what judging needs, and surveys Velero (its namespace, and every one a backupRef names). */
export async function surveyFinalBackups(
  client: KubeClient,
  opts: JudgeOptions & {
    /** Already listed (or being listed): read beside the Operations and Velero, not before them. */
    instances?: KubeObject[] | Promise<KubeObject[]>;
    namespace?: string;
    veleroNamespace?: string;
  },
): Promise<AppFinalBackup[]> {
  const operations = client.listIfServed(resources.operations, {
    namespace: opts.namespace,
    slim: withoutManagedFields,
  });
  const [instances, velero] = await Promise.all([
    opts.instances ??
      client.listIfServed(resources.applicationInstances, { namespace: opts.namespace, slim: judgedInstance }),
    surveyVelero(client, { veleroNamespace: opts.veleroNamespace, operations, claims: { namespace: opts.namespace } }),
  ]);
  return judgeApps(instances, await operations, velero, opts);
}

/** How each state reads in counts ("3 Velero backup missing"). */
export const stateWords: Record<FinalBackupState, string> = {
  counts: 'count',
  'no-backup-capability': 'without backup capability',
  running: 'running',
  expiring: 'expiring within the margin',
  stale: 'stale (taken before the pause)',
  unknown: 'not judgeable (a time in the evidence cannot be read)',
  unpaused: 'not paused',
  expired: 'expired',
  deleting: 'being deleted (a DeleteBackupRequest)',
  'volumes-not-captured': 'volumes not captured',
  'velero-failed': 'Velero backup failed',
  'velero-missing': 'Velero backup missing',
  'location-missing': 'storage location gone',
  failed: 'Failed',
  missing: 'missing',
};

export function countStates(apps: AppFinalBackup[]): Partial<Record<FinalBackupState, number>> {
  const counts: Partial<Record<FinalBackupState, number>> = {};
  for (const a of apps) counts[a.verdict.state] = (counts[a.verdict.state] ?? 0) + 1;
  return counts;
}

export const describeCounts = (counts: Partial<Record<FinalBackupState, number>>) =>
  (Object.keys(stateWords) as FinalBackupState[])
    .filter((s) => counts[s])
    .map((s) => `${counts[s]} ${stateWords[s]}`)
    .join(', ');

/**
 * The final-backup flags the user chose before, read from the latest Operation among these
 * applications' final backups (its TTL and storage location): without a run of its own to take
 * them from, a hint repeats those rather than impose the procedure's 8760h.
 */
function chosenBackupFlags(apps: AppFinalBackup[]): string[] {
  const latest = apps
    .flatMap((a) => a.candidates)
    .sort((x, y) => (y.metadata.creationTimestamp ?? '').localeCompare(x.metadata.creationTimestamp ?? ''))[0];
  const p = latest?.spec.parameters;
  return [
    '--ttl',
    p?.ttl ?? procedureTtl,
    ...(p?.storageLocation && p.storageLocation !== defaultStorageLocation
      ? ['--storage-location', p.storageLocation]
      : []),
  ];
}

/** The command that makes these applications' final backups count, as it can be pasted. */
export function fixFor(apps: AppFinalBackup[], hint: HintFlags = {}): string {
  const states = new Set(apps.map((a) => a.verdict.state));
  const one = apps.length === 1 ? apps[0] : undefined;
  const scope = one ? ['-n', one.namespace, one.application] : [];
  const flags = hint.backup ?? chosenBackupFlags(apps);
  const conflict = apps.some((a) => a.conflict && a.verdict.state === 'missing');
  const backup = vwCommand('backup', [
    ...scope,
    ...(conflict ? withNextSuffix(flags) : flags),
    ...(states.has('failed') ? ['--retry-failed'] : []),
    ...(hint.common ?? []),
  ]);
  if (!conflict && states.has('unpaused'))
    return `${vwCommand('pause', [...(scope.length ? scope : ['--all']), ...(hint.common ?? [])])}; then ${backup}`;
  return backup;
}

/** Why one application's backup does not count, for a list. */
export const appReason = (a: AppFinalBackup) =>
  `${a.namespace}/${a.application} (${a.conflict && a.verdict.state === 'missing' ? `${a.conflict.metadata.name} is ${describeOperation(a.conflict)}` : a.verdict.detail})`;

/** The gate of decommission, purge --delete-apps and uninstall: every application's final backup counts. */
export function finalBackupCheck(apps: AppFinalBackup[], hint?: HintFlags): PreflightCheck {
  const short = apps.filter((a) => !finalBackupCounts(a.verdict.state));
  const warned = apps.filter((a) => a.warning);
  const warning = warned.length
    ? `${plural(warned.length, 'final backup')} on a BackupStorageLocation that is Unavailable (Velero can restore from it only once it is Available again): ${warned
        .slice(0, 10)
        .map((a) => `${a.namespace}/${a.application} (${a.warning})`)
        .join(', ')}${warned.length > 10 ? ', ...' : ''}`
    : undefined;
  if (!short.length)
    return {
      name: 'final backups',
      ok: true,
      detail: `${plural(apps.length, 'application')}: ${describeCounts(countStates(apps)) || 'none'}`,
      ...(warning ? { warning } : {}),
    };
  const listed = short.slice(0, 10).map(appReason).join(', ');
  return {
    name: 'final backups',
    ok: false,
    detail: `${short.length} of ${plural(apps.length, 'application')} ${short.length === 1 ? 'has' : 'have'} no final backup that counts: ${listed}${short.length > 10 ? ', ...' : ''}; pass --skip-backup-check only if you decided not to back up`,
    fix: fixFor(short, hint),
    ...(warning ? { warning } : {}),
  };
}
