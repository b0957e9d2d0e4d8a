import type { ActLock, Deps, StepDeps } from '../../deps';
import { formatDuration } from '../../duration';
import { ExitCode, PreflightError, throwIfInterrupted } from '../../errors';
import type { FinalBackupParameters } from '../../operator/final-backup';
import type { ApprovedPlan } from '../../steps/approved';
import { type BackupApplyResult, applyBackup } from '../../steps/backup/apply';
import { type BackupPlan, planBackup, validateTtl } from '../../steps/backup/plan';
import { type BackupRecord, conflictFix, describeActions, summarizeBackups } from '../../steps/backup/summary';
import { backupHintFlags, hintFlags } from '../hints';
import { vwCommand } from '../../steps/hints';
import { veleroWaitingPhases, waitForBackups } from '../../steps/backup/wait';
import { backupNeeds } from '../../steps/needs';
import { requireAccess, requireOperatorCrds } from '../../steps/preflight';
import type { DryRunMode } from '../../steps/results';
import { type SelectionInput, selectionScope } from '../../steps/selection';
import type { CommonOptions } from '../flags';
import { info, paint, plural, warn, warnEach } from '../io';
import { type BackupReport, printBackupDryRun, printBackupRecords, refused } from '../printers/backup';
import { readSelection, stepDeps, withLock } from '../step-context';

export interface BackupOptions extends CommonOptions {
  selection: SelectionInput;
  dryRun: DryRunMode;
  concurrency: number;
  wait: boolean;
  timeoutMs: number;
  /** The Operation's parameters, field for field as the procedure's step 2 manifest has them. */
  parameters: FinalBackupParameters;
  veleroNamespace: string;
  requireAvailableLocation: boolean;
  retryFailed: boolean;
  /** Exit 1 also when an application has no backup capability. */
  strict: boolean;
  /** A final backup that expires sooner than this does not count (--expiry-margin). */
  marginMs: number;
  allowShortTtl: boolean;
  /** The plan a run executes (uninstall --plan): only its applications, its Operations marked as its own. */
  approved?: ApprovedPlan;
}

/** What backup needs from the API server with these options, in this scope (kubectl vw rbac prints it). */
export const backupNeedsOf = (o: BackupOptions, scope: string | undefined) =>
  backupNeeds({
    dryRun: o.dryRun,
    scope,
    retryFailed: o.retryFailed,
    veleroNamespace: o.veleroNamespace,
    wait: o.wait,
  });

/** What this run's hints repeat: its connection flags, margin and final-backup parameters. */
const backupHints = (o: BackupOptions) => hintFlags(o, o.marginMs, backupHintFlags(o.parameters, o.veleroNamespace));

/** Velero's phases, in the order a Backup goes through them (v1.18 queues backups). */
const veleroOrder = ['New', 'Queued', 'ReadyToStart', 'InProgress', 'WaitingForPluginOperations', 'Finalizing'];

/**
 * Where the backups waited for stand: a count per phase, the Velero phases of those still running
 * (how many wait in Velero's queue), and the slowest unfinished ones.
 */
function backupProgress(deps: StepDeps, total: number) {
  const phases = new Map<string, string>();
  const velero = new Map<string, string>();
  const since = new Map<string, number>();
  const inVelero = (sep: string) => {
    const c = new Map<string, number>();
    for (const [k, p] of velero) if (phases.get(k) === 'Running') c.set(p, (c.get(p) ?? 0) + 1);
    const shown = [...c].sort((a, b) => veleroOrder.indexOf(a[0]) - veleroOrder.indexOf(b[0]));
    return shown.map(([p, n]) => `${p} ${n}`).join(sep);
  };
  const counts = () => {
    const c: Record<string, number> = {};
    for (const p of phases.values()) c[p] = (c[p] ?? 0) + 1;
    return { ...c, done: (c.Succeeded ?? 0) + (c.Failed ?? 0) } as Record<string, number> & { done: number };
  };
  const slowest = (n: number) => {
    const now = deps.clock.monotonic();
    return [...phases]
      .filter(([, p]) => p !== 'Succeeded' && p !== 'Failed')
      .map(([k]) => [k, now - (since.get(k) ?? now)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => `${k.split('/').pop()} ${formatDuration(ms)}`);
  };
  return {
    seen(key: string, phase: string) {
      if (!since.has(key)) since.set(key, deps.clock.monotonic());
      phases.set(key, phase);
    },
    veleroSeen(key: string, phase: string) {
      velero.set(key, phase);
    },
    /** On a terminal: a bar, the count per phase and the three slowest, redrawn in place. */
    bar() {
      const c = counts();
      const filled = total ? Math.round((c.done / total) * 24) : 24;
      const counted = ['Pending', 'Running', 'Succeeded', 'Failed'].map((p) => `${p} ${c[p] ?? 0}`).join('  ');
      const slow = slowest(3);
      const v = inVelero('  ');
      return `[${'#'.repeat(filled)}${'.'.repeat(24 - filled)}] ${c.done}/${total}  ${counted}${v ? `  Velero: ${v}` : ''}${slow.length ? `  slowest: ${slow.join(', ')}` : ''}`;
    },
    /** Off a terminal, the heartbeat: "3 of 12 backups running (Velero: Queued 2, InProgress 1), slowest odoo-7 4m10s". */
    heartbeat() {
      const [slow] = slowest(1);
      const v = inVelero(', ');
      return `${total - counts().done} of ${plural(total, 'backup')} running${v ? ` (Velero: ${v})` : ''}${slow ? `, slowest ${slow}` : ''}`;
    },
  };
}

/**
 * Phase: the wait. On a terminal a live count per phase and the slowest applications, redrawn in
 * place; off one, no progress, only a heartbeat line every 30 s while it waits.
 */
async function waitPhase(deps: StepDeps, applied: BackupApplyResult[], scope: string | undefined, o: BackupOptions) {
  const progress = backupProgress(deps, applied.length);
  deps.report.waiting(() => progress.heartbeat());
  try {
    return await waitForBackups(deps, applied, {
      namespace: scope,
      veleroNamespace: o.veleroNamespace,
      timeoutMs: o.timeoutMs,
      onPhase: (key, phase) => {
        progress.seen(key, phase);
        deps.report.progress(progress.bar());
      },
      onVeleroPhase: (key, phase) => {
        progress.veleroSeen(key, phase);
        deps.report.progress(progress.bar());
      },
    });
  } finally {
    deps.report.done();
  }
}

/** Phase: create (or adopt) every Operation, wait for them, and read back what became of each. */
async function takeBackups(
  deps: StepDeps,
  o: BackupOptions,
  plan: BackupPlan,
  scope: string | undefined,
  lock: ActLock,
) {
  const applied = await applyBackup(deps, plan, {
    dryRun: 'none',
    concurrency: o.concurrency,
    timeoutMs: o.timeoutMs,
    lock,
    judge: () => ({ now: deps.clock.now(), marginMs: o.marginMs, veleroNamespace: o.veleroNamespace }),
    namespace: scope,
    approved: o.approved,
  });
  for (const a of applied.filter((x) => x.error))
    deps.report.warnEach('Operations not created', `${a.item.namespace}/${a.item.operation}: ${a.error}`);
  deps.report.done();
  deps.report.info(
    `backup: ${describeActions(applied)}; storage location ${o.parameters.storageLocation}, ttl ${o.parameters.ttl}`,
  );
  let pending = new Set<string>();
  let timedOut = false;
  let waitingInVelero = new Map<string, string>();
  if (o.wait && !deps.signal.aborted) {
    const outcome = await waitPhase(deps, applied, scope, o);
    pending = new Set(outcome.pending);
    timedOut = outcome.timedOut;
    waitingInVelero = outcome.veleroPhases;
  }
  const judge = { now: deps.clock.now(), marginMs: o.marginMs, hint: backupHints(o) };
  const records = await summarizeBackups(deps.client, applied, pending, {
    ...judge,
    namespace: scope,
    veleroNamespace: o.veleroNamespace,
  });
  return { records, timedOut, waitingInVelero };
}

/** What the Backups still pending were doing in Velero when the time ran out. */
function queuedWords(waiting: Map<string, string>): string {
  const queued = [...waiting.values()].filter((p) => veleroWaitingPhases.has(p)).length;
  const running = waiting.size - queued;
  if (!queued) return '';
  return ` (${plural(queued, 'Velero backup')} still queued${running ? `, ${running} in progress` : ''}: Velero runs one backup at a time unless its server has --concurrent-backups)`;
}

/** The summary line on stderr and the exit code, from the records. */
function verdict(
  deps: Deps,
  o: BackupOptions,
  run: { records: BackupRecord[]; timedOut: boolean; waitingInVelero: Map<string, string> },
  invalid: number,
  ms: number,
) {
  const { records, timedOut } = run;
  const count = (...xs: BackupRecord['outcome'][]) => records.filter((r) => xs.includes(r.outcome)).length;
  const byOutcome: Record<string, number> = {};
  for (const r of records) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
  deps.journal?.note('backup', byOutcome);
  const unfinished = count('timed-out', 'running');
  const bad = records.length - count('counts', 'no-backup-capability') - unfinished;
  const summary = `${plural(count('counts'), 'final backup')} that count${count('counts') === 1 ? 's' : ''}, ${count('no-backup-capability')} without backup capability, ${bad} not counting, ${unfinished} unfinished in ${formatDuration(ms)}`;
  info(deps.io, `backup: ${bad || timedOut ? paint(deps.io, 'red', summary) : summary}`);
  for (const r of records.filter((x) => x.fix).slice(0, 10))
    info(deps.io, `  ${r.namespace}/${r.application}: ${r.message ?? r.outcome}; fix: ${r.fix}`);
  if (bad || invalid) return ExitCode.someFailed;
  if (timedOut || count('timed-out') || (!o.wait && unfinished)) {
    if (timedOut)
      warn(
        deps.io,
        `some backups did not finish within --timeout${queuedWords(run.waitingInVelero)}; re-run the same command to keep waiting (nothing is duplicated)`,
      );
    return o.wait ? ExitCode.timeout : ExitCode.ok;
  }
  if (o.strict && count('no-backup-capability')) return ExitCode.someFailed;
  return ExitCode.ok;
}

/**
 * One line per application planned as failed: its final-backup name is held by another kind of
 * Operation (never touched), or would be longer than an object name may be (never sent).
 */
function reportRefusals(deps: Deps, o: BackupOptions, plan: BackupPlan) {
  warnEach(
    deps.io,
    plan.items
      .filter((x) => x.action === 'conflict')
      .map((i) => ({
        subject: `${i.namespace}/${i.application}`,
        text: `${i.namespace}/${i.application}: operation.ops.vworkspace.io/${i.operation} ${i.note}; it is left alone. Back the application up under another name: ${conflictFix(i, backupHints(o))}`,
      })),
    (n) => `${n} applications' final-backup names are held by other Operations, left alone (--name-suffix)`,
  );
  warnEach(
    deps.io,
    plan.items
      .filter((x) => x.action === 'name-too-long')
      .map((i) => ({
        subject: `${i.namespace}/${i.application}`,
        text: `${i.namespace}/${i.application}: not backed up: ${i.note}`,
      })),
    (n) => `${n} applications not backed up: their final-backup names would be longer than 253 characters`,
  );
}

/**
 * Under an approved plan: every application is one the plan names (by uid), and every Operation
 * made is marked as made by a run of that plan, so a resumed run knows its own.
 */
function underPlan(o: BackupOptions, plan: BackupPlan) {
  if (!o.approved) return;
  const apps = plan.items.map((i) => ({
    metadata: { namespace: i.namespace, name: i.application, uid: i.applicationUID },
  }));
  const refused = o.approved.instances(apps);
  if (refused) throw new PreflightError(`refusing to back up: ${refused.reason}`, refused.hint);
  for (const i of plan.items)
    if (i.manifest) i.manifest.metadata.annotations = { ...i.manifest.metadata.annotations, ...o.approved.annotation };
}

/** Step 2: plan the final-backup Operations, create them under the lock, wait, and prove each. */
export async function runBackup(o: BackupOptions, deps: Deps): Promise<number> {
  validateTtl(o.parameters.ttl, { allowShort: o.allowShortTtl, marginMs: o.marginMs });
  const session = await deps.connect(o.connection, { concurrency: o.concurrency });
  const { client, target } = session;
  const selection = await readSelection(o.selection, target, deps);
  const scope = selectionScope(selection);
  await requireOperatorCrds(client);
  await requireAccess(client, backupNeedsOf(o, scope));
  const plan = await planBackup(client, {
    selection,
    parameters: o.parameters,
    veleroNamespace: o.veleroNamespace,
    retryFailed: o.retryFailed,
    requireAvailableLocation: o.requireAvailableLocation,
    judge: { now: deps.clock.now(), marginMs: o.marginMs, hint: backupHints(o) },
  });
  if (
    !selection.names.length &&
    !o.selection.selector &&
    selection.allNamespaces &&
    !o.selection.all &&
    !o.selection.allNamespaces
  )
    info(
      deps.io,
      `backup: no names or selector given: every ApplicationInstance in every namespace (${plural(plan.items.length, 'application')})`,
    );
  underPlan(o, plan);
  for (const w of plan.warnings) warn(deps.io, w);
  warnEach(
    deps.io,
    plan.unpaused.map((u) => ({
      subject: `${u.namespace}/${u.application}`,
      text: `${u.namespace}/${u.application} is not paused: its backup counts as final only once taken after the pause (${vwCommand('pause', ['-n', u.namespace, u.application, ...(backupHints(o).common ?? [])])})`,
    })),
    (n) => `${n} applications are not paused`,
    `their backups count as final only once taken after the pause: ${vwCommand('pause', ['--all', ...(backupHints(o).common ?? [])])}`,
  );
  reportRefusals(deps, o, plan);
  warnEach(
    deps.io,
    plan.invalid.map((inv) => ({
      subject: inv.name,
      text: `${inv.name} does not match the operator's schema and is skipped: ${inv.error}`,
    })),
    (n) => `${n} ApplicationInstances do not match the operator's schema and are skipped`,
  );
  const report: BackupReport = {
    context: target.context,
    storageLocation: o.parameters.storageLocation,
    ttl: o.parameters.ttl,
  };
  if (o.dryRun !== 'none') {
    const applied = await applyBackup(stepDeps(deps, client), plan, o);
    printBackupDryRun(deps.io, o.output, report, o.dryRun, plan, applied);
    const failed = applied.some((a) => a.error || refused(a.item.action)) || plan.invalid.length;
    return failed ? ExitCode.someFailed : ExitCode.ok;
  }
  const started = deps.clock.monotonic();
  let stopped = deps.signal;
  const run = await withLock(deps, session, 'BackupResult', (lock) => {
    stopped = lock.signal;
    return takeBackups(stepDeps(deps, client, lock.signal), o, plan, scope, lock);
  });
  printBackupRecords(deps.io, o.output, report, run.records);
  const code = verdict(deps, o, run, plan.invalid.length, deps.clock.monotonic() - started);
  throwIfInterrupted(stopped);
  return code;
}
