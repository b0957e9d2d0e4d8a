import type { ActLock, Deps, Session } from '../../deps';
import type { KubeClient } from '../../kube/client';
import { ExitCode, UsageError } from '../../errors';
import { operatorNamespace } from '../../operator/names';
import { validateTtl } from '../../steps/backup/plan';
import type { DryRunMode } from '../../steps/results';
import type { ApprovedPlan } from '../../steps/approved';
import type { PlanOptions } from '../../steps/plan-file/document';
import { type ProcedureStatus, procedureStatus, type StatusOptions } from '../../steps/status/judge';
import { confirm } from '../confirm';
import { defaults } from '../defaults';
import type { CommonOptions } from '../flags';
import { info, paint } from '../io';
import { backupHintFlags, hintFlags } from '../hints';
import { printStatus } from '../printers/status';
import { reportError } from '../run';
import { withLock } from '../step-context';
import { dedupeNeeds } from '../../steps/needs';
import { requireAccess, requireOperatorCrdsReadable } from '../../steps/preflight';
import { readReleaseFacts } from '../../steps/purge/release-resources';
import { type BackupOptions, backupNeedsOf, runBackup } from './backup';
import { type DecommissionOptions, decommissionNeedsOf, runDecommission } from './decommission';
import { instanceNeedsOf } from './instance-step';
import { type PauseOptions, runPause } from './pause';
import { type PurgeOptions, purgeNeedsOf, runPurge } from './purge';
import { statusNeedsOf } from './status';

export interface UninstallOptions extends CommonOptions {
  dryRun: DryRunMode;
  yes: boolean;
  /** Final backup retention; required unless skipBackup. */
  ttl?: string;
  skipBackup: boolean;
  storageLocation: string;
  suspendHelmReleases: boolean;
  deleteApps: boolean;
  deleteCrds: boolean;
  deleteNamespace: boolean;
  /** CRDs besides the operator's the release may delete (purge --delete-release-crds). */
  deleteReleaseCrds: string[];
  /** How long each step may wait. */
  timeoutMs: number;
  helm?: string;
  /** A final backup that expires sooner than this does not count. */
  marginMs: number;
  allowShortTtl: boolean;
  /** Where Velero runs: step 2 and every gate survey its Backups there. */
  veleroNamespace: string;
  /** Write the plan of this uninstall to this file ("-": stdout), reading only: no lock, no write. */
  planOut?: string;
  /** Run exactly the plan in this file, or refuse. */
  plan?: string;
  /** A plan older than this is refused. */
  maxPlanAgeMs?: number;
  /** The plan's options given on the command line: a run of a plan compares them with the plan's. */
  given?: Partial<PlanOptions>;
  /** Set while a plan runs: every step's gates judge it too, at the moment of each act. */
  approved?: ApprovedPlan;
}

/** The step commands uninstall runs, through their options; tests pass their own to check the order. */
export interface StepRunners {
  pause: (o: PauseOptions, deps: Deps) => Promise<number>;
  backup: (o: BackupOptions, deps: Deps) => Promise<number>;
  decommission: (o: DecommissionOptions, deps: Deps) => Promise<number>;
  purge: (o: PurgeOptions, deps: Deps) => Promise<number>;
  /** Where the cluster stands, read before each decision. */
  status: (client: KubeClient, opts: StatusOptions) => Promise<ProcedureStatus>;
  /** The access review of the whole run, before step 1. */
  preflight: (client: KubeClient, o: UninstallOptions) => Promise<void>;
  /** Holds the lock for the whole procedure (the steps run under it). */
  lock: <T>(deps: Deps, session: Session, purpose: string, body: (lock: ActLock) => Promise<T>) => Promise<T>;
}

export const stepRunners: StepRunners = {
  preflight: (client, o) => preflight(client, o),
  lock: withLock,
  pause: runPause,
  backup: runBackup,
  decommission: runDecommission,
  purge: runPurge,
  status: procedureStatus,
};

const b = defaults.backup;
const isDry = (o: UninstallOptions) => o.dryRun !== 'none';
const common = (o: UninstallOptions) => ({ connection: o.connection, output: 'table' as const, verbose: o.verbose });
const everything = { names: [], all: true, allNamespaces: true, emptyMeansAll: false };

/** Step 1's options: every instance, waiting for the operator. */
export const pauseStepOptions = (o: UninstallOptions): PauseOptions => ({
  ...common(o),
  selection: everything,
  dryRun: o.dryRun,
  concurrency: defaults.concurrency,
  wait: true,
  timeoutMs: o.timeoutMs,
  suspendHelmReleases: o.suspendHelmReleases,
  allHelmReleases: false,
  approved: o.approved,
});

/** Step 2's options: the procedure's manifest for every application. */
export const backupStepOptions = (o: UninstallOptions, retryFailed: boolean): BackupOptions => ({
  ...common(o),
  selection: everything,
  dryRun: o.dryRun,
  concurrency: defaults.concurrency,
  wait: true,
  timeoutMs: o.timeoutMs,
  parameters: {
    ttl: o.ttl ?? '',
    storageLocation: o.storageLocation,
    snapshotVolumes: b.snapshotVolumes,
    csiSnapshotClassName: b.csiSnapshotClass,
    nameSuffix: b.nameSuffix,
  },
  veleroNamespace: o.veleroNamespace,
  requireAvailableLocation: false,
  retryFailed,
  strict: false,
  marginMs: o.marginMs,
  allowShortTtl: o.allowShortTtl,
  approved: o.approved,
});

/** Step 3's options: a dry run plans it as if steps 1 and 2 had run; a real run never skips the checks. */
export const decommissionStepOptions = (o: UninstallOptions): DecommissionOptions => ({
  ...common(o),
  namespace: operatorNamespace,
  namespaceExplicit: false,
  dryRun: o.dryRun,
  yes: true,
  wait: true,
  timeoutMs: o.timeoutMs,
  skipBackupCheck: o.skipBackup,
  forcePreflight: isDry(o),
  force: false,
  failFast: false,
  marginMs: o.marginMs,
  veleroNamespace: o.veleroNamespace,
  approved: o.approved,
});

export const purgeStepOptions = (o: UninstallOptions): PurgeOptions => ({
  ...common(o),
  dryRun: o.dryRun,
  yes: o.yes,
  deleteApps: o.deleteApps,
  skipBackupCheck: o.skipBackup,
  deleteCrds: o.deleteCrds,
  deleteNamespace: o.deleteNamespace,
  deleteReleaseCrds: o.deleteReleaseCrds,
  forcePreflight: isDry(o),
  helm: o.helm,
  report: false,
  timeoutMs: o.timeoutMs,
  concurrency: defaults.concurrency,
  marginMs: o.marginMs,
  veleroNamespace: o.veleroNamespace,
  approved: o.approved,
});

/**
 * What the whole procedure needs, step by step as uninstall runs them (backup may retry a Failed
 * one), checked before step 1 so a missing right stops it before anything changed. Making a plan
 * (--plan-out) reads what a client dry run of the same uninstall reads, and no more.
 */
export function uninstallNeedsOf(
  o: UninstallOptions,
  release?: Awaited<ReturnType<typeof readReleaseFacts>>,
): ReturnType<typeof dedupeNeeds> {
  if (o.planOut) return uninstallNeedsOf({ ...o, planOut: undefined, dryRun: 'client' });
  return dedupeNeeds([
    ...statusNeedsOf(o),
    ...instanceNeedsOf(pauseStepOptions(o), o.suspendHelmReleases, undefined),
    ...(o.skipBackup ? [] : backupNeedsOf(backupStepOptions(o, true), undefined)),
    ...decommissionNeedsOf(decommissionStepOptions(o)),
    ...purgeNeedsOf(purgeStepOptions(o), release),
  ]);
}

/** The access review of the whole run: what every step will need, before step 1. */
export async function preflight(client: KubeClient, o: UninstallOptions) {
  await requireOperatorCrdsReadable(client);
  await requireAccess(client, uninstallNeedsOf(o));
  await requireAccess(client, uninstallNeedsOf(o, await readReleaseFacts(client)));
}

/** What one uninstall run shares between its steps. */
interface Run {
  o: UninstallOptions;
  deps: Deps;
  runners: StepRunners;
  before: ProcedureStatus;
  status: () => Promise<ProcedureStatus>;
}

const needed = (run: Run, n: number) => {
  const s = run.before.steps.find((x) => x.step === n);
  return Boolean(s && s.state !== 'done' && s.state !== 'skipped');
};

/** A step's error (preflight refusal, RBAC, ...) stops the run like a non-zero exit does. */
async function attempt(run: Run, body: () => Promise<number>) {
  try {
    return await body();
  } catch (err) {
    return reportError(run.deps.io, err);
  }
}

async function stop(run: Run, code: number, where: string, now?: ProcedureStatus) {
  const { io } = run.deps;
  io.err(paint(io, 'red', `\nstopped at ${where} (exit ${code}); the cluster now stands here:`));
  printStatus(io, now ?? (await run.status()), 'table');
  info(io, 'fix what is reported above, then run kubectl vw uninstall again: it resumes from here');
  return code;
}

/** Steps 4 and 5 in one purge; names the step that stopped (4 while its deletions are held). */
async function purgeSteps(run: Run): Promise<number> {
  const { o, deps } = run;
  info(
    deps.io,
    `\n== Step${o.deleteApps ? 's 4 and' : ''} 5: ${o.deleteApps ? 'delete remaining CRs, ' : ''}helm uninstall`,
  );
  const code = await attempt(run, () => run.runners.purge(purgeStepOptions(o), deps));
  if (!code) return code;
  const now = await run.status();
  const step4 = now.steps.find((x) => x.step === 4)?.state;
  const where = step4 === 'in progress' ? 'step 4' : o.deleteApps && step4 !== 'done' ? 'steps 4 and 5' : 'step 5';
  return stop(run, code, where, now);
}

/** The steps in order; each runs only if the cluster says it is not done, and the first failure stops. */
async function runSteps(run: Run): Promise<number> {
  const { o, deps } = run;
  if (needed(run, 1)) {
    info(deps.io, '\n== Step 1: pause reconciliation');
    const code = await attempt(run, () => run.runners.pause(pauseStepOptions(o), deps));
    if (code) return stop(run, code, 'step 1');
  }
  if (needed(run, 2) && !o.skipBackup) {
    info(deps.io, '\n== Step 2: final backups');
    const blocked = run.before.steps.find((s) => s.step === 2)?.state === 'blocked';
    const code = await attempt(run, () => run.runners.backup(backupStepOptions(o, blocked), deps));
    if (code) return stop(run, code, 'step 2');
  }
  if (needed(run, 3)) {
    info(deps.io, '\n== Step 3: delete the Cluster CR (Odoo revokes the credential)');
    if (!isDry(o)) {
      const { target } = await deps.connect(o.connection);
      await confirm(deps, target, 'delete the Cluster CR (step 3)', { yes: o.yes });
      // A prompt may have waited an hour (a laptop asleep): the lock must still be ours.
      await deps.heldLock?.confirm();
    }
    const code = await attempt(run, () => run.runners.decommission(decommissionStepOptions(o), deps));
    if (code) return stop(run, code, 'step 3');
  }
  if (needed(run, 4) || needed(run, 5) || o.deleteCrds || o.deleteNamespace) {
    const code = await purgeSteps(run);
    if (code) return code;
  }
  return ExitCode.ok;
}

/**
 * Deps whose connect hands every step the session this run resolved at its start (a namespace of
 * the step's own applied), instead of reading the kubeconfig again.
 */
function pinTarget(deps: Deps, session: Session): Deps {
  return {
    ...deps,
    connect: async (flags) => ({
      client: session.client,
      target:
        flags.namespace === undefined
          ? session.target
          : { ...session.target, namespace: flags.namespace, namespaceExplicit: true },
    }),
  };
}

/** --ttl is required unless --skip-backup, and must be a TTL a final backup can count with. */
export function validateUninstall(o: UninstallOptions) {
  if (o.skipBackup) return;
  if (!o.ttl)
    throw new UsageError(
      '--ttl is required for the final backups (or pass --skip-backup)',
      'e.g. --ttl 8760h (one year)',
    );
  validateTtl(o.ttl, { allowShort: o.allowShortTtl, marginMs: o.marginMs });
}

/** What a run does inside the lock before its first step (a plan's run: judge the cluster against it). */
export interface UninstallHooks {
  beforeSteps?: (client: KubeClient) => Promise<void>;
}

/** The procedure on a session resolved once: status, then the steps under one lock. */
export async function uninstallOn(
  o: UninstallOptions,
  deps: Deps,
  runners: StepRunners,
  session: Session,
  hooks: UninstallHooks = {},
): Promise<number> {
  const pinned = pinTarget(deps, session);
  const { client } = session;
  await runners.preflight(client, o);
  const hint = hintFlags(o, o.marginMs, o.ttl ? backupHintFlags(backupStepOptions(o, false).parameters) : undefined);
  const status = () =>
    runners.status(client, { now: deps.clock.now(), marginMs: o.marginMs, veleroNamespace: o.veleroNamespace, hint });
  const before = await status();
  printStatus(deps.io, before, 'table');
  if (!before.steps.some((s) => s.state !== 'done' && s.state !== 'skipped')) {
    info(deps.io, 'nothing to do: the procedure is complete on this cluster');
    return ExitCode.ok;
  }
  if (isDry(o))
    info(deps.io, `dry run (${o.dryRun}): each step's plan, later steps planned as if the earlier ones had run`);
  // One lock for the whole procedure: another run cannot slip in between two steps (dry runs take none).
  const code = isDry(o)
    ? await runSteps({ o, deps: pinned, runners, before, status })
    : await runners.lock(pinned, session, 'UninstallResult', async (lock) => {
        await hooks.beforeSteps?.(client);
        return runSteps({ o, deps: { ...pinned, heldLock: lock }, runners, before, status });
      });
  if (code || isDry(o)) return code;
  info(deps.io, '\n== Done');
  printStatus(deps.io, await status(), 'table');
  return ExitCode.ok;
}

/** The whole procedure in order, resuming where the cluster stands; asks before steps 3 and 5. */
export async function runUninstall(
  o: UninstallOptions,
  deps: Deps,
  runners: StepRunners = stepRunners,
): Promise<number> {
  if (o.output !== 'table')
    throw new UsageError('kubectl vw uninstall prints a narrative; use kubectl vw status -o json for scripts');
  if (o.plan && o.planOut) throw new UsageError('--plan runs a plan and --plan-out makes one: pass one of them');
  if (o.planOut) return (await import('./plan-out')).writeUninstallPlan(o, deps);
  if (o.plan) return (await import('./plan-apply')).applyUninstallPlan(o, deps, runners);
  validateUninstall(o);
  // The target is resolved once: a kubeconfig edited mid-run (kubectx, a cloud CLI) changes nothing.
  return uninstallOn(o, deps, runners, await deps.connect(o.connection));
}
