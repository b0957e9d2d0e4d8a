import { parseGoDuration } from '../../duration';
import { PreflightError, UsageError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import type { KubeObject } from '../../kube/resources';
import {
  describeOperation,
  type FinalBackupParameters,
  type FinalBackupState,
  finalBackupOperation,
} from '../../operator/final-backup';
import { finalBackupName, maxObjectNameLength, operationTtlPattern, resources } from '../../operator/names';
import type { Operation } from '../../operator/schemas';
import { type AppFinalBackup, type JudgeOptions, judgeApps } from '../final-backups';
import { type Selection, selectInstances, selectionScope } from '../selection';
import { surveyVelero } from '../velero';

export interface BackupOptions {
  selection: Selection;
  parameters: FinalBackupParameters;
  veleroNamespace: string;
  retryFailed: boolean;
  requireAvailableLocation: boolean;
  judge: JudgeOptions;
}

/**
 * What step 2 does for one application:
 * - create: no final backup yet; keep: one counts already; adopt: one is running, wait for it;
 * - retry: the last one Failed and --retry-failed (it is deleted, with preconditions, and made again);
 * - retake: the last one does not count (stale, expired, Velero's failed or gone): a new one under a
 *   new name, the old one kept until Velero expires it;
 * - conflict: the name is held by an Operation that is not a backup of this application;
 * - failed: the last one Failed (without --retry-failed); unpaused: pause first;
 * - name-too-long: `<application>-<suffix>` would be longer than an object name may be.
 */
export type BackupAction =
  | 'create'
  | 'keep'
  | 'adopt'
  | 'retry'
  | 'retake'
  | 'conflict'
  | 'failed'
  | 'unpaused'
  | 'name-too-long';

export interface BackupPlanItem {
  namespace: string;
  application: string;
  /** The ApplicationInstance's uid. */
  applicationUID?: string;
  /** The Operation acted on: the one to create, or the one that stands. */
  operation: string;
  action: BackupAction;
  /** Where the application stood when planned. */
  state: FinalBackupState;
  note?: string;
  /** The Operation that stands (for retry: the one deleted first, by uid and resourceVersion). */
  existing?: Operation;
  /** What create, retry and retake create. */
  manifest?: ReturnType<typeof finalBackupOperation>;
}

export interface BackupPlan {
  items: BackupPlanItem[];
  invalid: { name: string; error: string }[];
  warnings: string[];
  /** Applications not paused: a backup counts as final only once taken after the pause. */
  unpaused: { namespace: string; application: string }[];
}

/** Go's time.ParseDuration's bound: durations are int64 nanoseconds (about 2,562,047h). */
const maxDurationMs = (2 ** 63 - 1) / 1e6;

/**
 * TTLs are what the Operation CRD accepts (its pattern: Go durations without a sign, "0" or a bare
 * point), and positive; one under the margin would expire almost at once, so it is refused unless
 * asked for. Refused here, the API server never has to: no Operation is created with a bad one.
 */
export function validateTtl(ttl: string, opts: { allowShort?: boolean; marginMs?: number } = {}): number {
  const ms = operationTtlPattern.test(ttl) ? parseGoDuration(ttl) : undefined;
  const hint = 'units are h, m, s, ms, us, ns (no days or years): one year is 8760h, 30 days is 720h';
  if (ms === undefined || ms <= 0)
    throw new UsageError(`invalid --ttl "${ttl}": expected a positive Go duration such as 8760h, 720h30m`, hint);
  if (ms > maxDurationMs)
    throw new UsageError(`invalid --ttl "${ttl}": longer than Go's longest duration (2562047h47m16.854775807s)`, hint);
  const margin = opts.marginMs ?? 24 * 3_600_000;
  if (ms < margin && !opts.allowShort) {
    throw new UsageError(
      `--ttl ${ttl} is shorter than the final-backup expiry margin (${margin / 3_600_000}h): such a backup expires almost at once and would not count`,
      'pick a longer TTL (8760h is a year), or pass --allow-short-ttl (and a smaller --expiry-margin)',
    );
  }
  return ms;
}

/** The BackupStorageLocation must exist; one that is not Available is a warning, or refused. */
export async function checkStorageLocation(client: KubeClient, opts: BackupOptions, warnings: string[]) {
  const name = opts.parameters.storageLocation;
  const bsl = await client.find(resources.backupStorageLocations, name, opts.veleroNamespace);
  if (!bsl) {
    throw new UsageError(
      `BackupStorageLocation "${name}" not found in namespace ${opts.veleroNamespace}`,
      `list them with: kubectl -n ${opts.veleroNamespace} get backupstoragelocations; then pass --storage-location`,
    );
  }
  const phase = (bsl.status as { phase?: string } | undefined)?.phase ?? 'Unknown';
  if (phase !== 'Available') {
    const msg = `BackupStorageLocation ${opts.veleroNamespace}/${name} is ${phase}, not Available: backups to it may fail`;
    if (opts.requireAvailableLocation)
      throw new PreflightError(msg, 'fix the location, or drop --require-available-location');
    warnings.push(msg);
  }
}

/** The first of <app>-<suffix>, <app>-<suffix>-2, ... that no Operation holds. */
function freeName(base: string, taken: Set<string>) {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

/**
 * An Operation named past the 253 characters of an object name would be refused by the API server
 * with a raw 422: planned as failed instead, naming the limit and the suffix that would fit.
 */
function nameTooLong(at: Omit<BackupPlanItem, 'action' | 'operation'>, name: string, suffix: string): BackupPlanItem {
  const room = maxObjectNameLength - (name.length - suffix.length);
  const fix =
    room > 0
      ? `pass a --name-suffix of at most ${room} character${room === 1 ? '' : 's'}`
      : 'its name leaves no room for a suffix: create its final backup by hand under a shorter name';
  return {
    ...at,
    action: 'name-too-long',
    operation: name,
    note: `Operation name would be ${name.length} characters, over the ${maxObjectNameLength} an object name may have; ${fix}`,
  };
}

/** Decides one application's action from where its final backup stands. */
export function planItem(
  app: AppFinalBackup,
  opts: Pick<BackupOptions, 'parameters' | 'retryFailed'>,
  taken: Set<string>,
): BackupPlanItem {
  const { namespace, application, verdict } = app;
  const base = finalBackupName(application, opts.parameters.nameSuffix);
  const at = { namespace, application, applicationUID: app.uid, state: verdict.state, existing: verdict.operation };
  const make = (action: BackupAction, name: string, note?: string): BackupPlanItem =>
    name.length > maxObjectNameLength
      ? nameTooLong(at, name, name.slice(application.length + 1))
      : {
          ...at,
          action,
          operation: name,
          note,
          manifest: finalBackupOperation(namespace, application, opts.parameters, name),
        };
  const standing = verdict.operation?.metadata.name ?? base;
  switch (verdict.state) {
    case 'counts':
    case 'no-backup-capability':
      return { ...at, action: 'keep', operation: standing, note: verdict.detail };
    case 'running':
      return { ...at, action: 'adopt', operation: standing, note: verdict.detail };
    case 'unpaused':
      return { ...at, action: 'unpaused', operation: standing, note: verdict.detail };
    case 'unknown':
      // Another backup would be judged on the same unreadable evidence: say so, change nothing.
      return { ...at, action: 'failed', operation: standing, note: `cannot be judged: ${verdict.detail}` };
    case 'failed':
      return opts.retryFailed
        ? make('retry', standing, `previous attempt ${verdict.detail}`)
        : { ...at, action: 'failed', operation: standing, note: verdict.detail };
    case 'missing': {
      if (!taken.has(base) || base.length > maxObjectNameLength) return make('create', base);
      const holder = app.conflict?.metadata.name === base ? app.conflict : undefined;
      const why = holder ? `is ${describeOperation(holder)}, not a backup of ${application}` : 'holds the name';
      return { ...at, action: 'conflict', operation: base, existing: holder, note: why };
    }
    default:
      return make('retake', freeName(base, taken), `re-taken: the last one does not count (${verdict.detail})`);
  }
}

/** Step 2, read-only: per application, which final-backup Operation to create, adopt, retry or re-take. */
export async function planBackup(client: KubeClient, opts: BackupOptions): Promise<BackupPlan> {
  const warnings: string[] = [];
  await checkStorageLocation(client, opts, warnings);
  const { instances, invalid } = await selectInstances(client, opts.selection);
  const scope = selectionScope(opts.selection);
  const listed = client.listIfServed(resources.operations, { namespace: scope });
  const velero = await surveyVelero(client, {
    veleroNamespace: opts.veleroNamespace,
    operations: listed,
    claims: { namespace: scope },
  });
  const operations = await listed;
  const apps = judgeApps(instances as KubeObject[], operations, velero, opts.judge);
  const taken = new Map<string, Set<string>>();
  for (const op of operations) {
    const ns = op.metadata.namespace ?? '';
    taken.set(ns, (taken.get(ns) ?? new Set()).add(op.metadata.name));
  }
  const items = apps.map((app) => planItem(app, opts, taken.get(app.namespace) ?? new Set()));
  const unpaused = items
    .filter((x) => x.state === 'unpaused' || (x.action === 'create' && !isPausedApp(instances, x)))
    .map(({ namespace, application }) => ({ namespace, application }));
  return { items, invalid, warnings, unpaused };
}

const isPausedApp = (instances: { metadata: KubeObject['metadata'] }[], item: BackupPlanItem) =>
  instances.some(
    (ai) =>
      ai.metadata.namespace === item.namespace &&
      ai.metadata.name === item.application &&
      ai.metadata.annotations?.['apps.vworkspace.io/reconcile'] === 'disabled',
  );
