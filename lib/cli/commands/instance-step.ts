import type { Deps } from '../../deps';
import { formatDuration } from '../../duration';
import { ExitCode, PreflightError, throwIfInterrupted } from '../../errors';
import type { KubeClient } from '../../kube/client';
import type { KubeObject, ResourceType } from '../../kube/resources';
import type { ApprovedPlan } from '../../steps/approved';
import {
  applyInstancePlan,
  type InstanceOutcome,
  type InstancePlan,
  type OperatorReport,
} from '../../steps/instance-step';
import { instanceStepNeeds } from '../../steps/needs';
import { requireAccess, requireOperatorCrds } from '../../steps/preflight';
import { resources } from '../../operator/names';
import { type DryRunMode, summarize } from '../../steps/results';
import { type Selection, type SelectionInput, selectionScope } from '../../steps/selection';
import type { CommonOptions } from '../flags';
import { info, plural, warn } from '../io';
import { printResults } from '../output';
import { readSelection, stepDeps, withLock } from '../step-context';

/** Options every instance step (pause, resume) takes. */
export interface InstanceStepOptions extends CommonOptions {
  selection: SelectionInput;
  /** The plan a run executes (uninstall --plan): an instance it does not name refuses the step. */
  approved?: ApprovedPlan;
  dryRun: DryRunMode;
  concurrency: number;
  wait: boolean;
  timeoutMs: number;
}

/** What distinguishes pause from resume; everything else about running them is shared. */
export interface InstanceStep {
  /** Document kind for -o json|yaml, e.g. "PauseResult". */
  kind: string;
  verb: string;
  /** Kinds the step lists, and patches unless it is a client-side dry run. */
  patches: ResourceType[];
  plan(client: KubeClient, selection: Selection): Promise<InstancePlan>;
  report: OperatorReport;
}

/** What the step needs from the API server with these options, in this scope (kubectl vw rbac prints it). */
export const instanceNeedsOf = (o: InstanceStepOptions, helmReleases: boolean, scope: string | undefined) =>
  instanceStepNeeds({ dryRun: o.dryRun, scope, helmReleases, wait: o.wait });

/** Prints the rows and the summary line; returns 1 if any object failed, 4 if the wait timed out. */
function finish(
  deps: Deps,
  o: InstanceStepOptions,
  step: InstanceStep,
  context: string,
  out: InstanceOutcome,
  ms: number,
) {
  const { io } = deps;
  const counts = summarize(out.results);
  if (o.dryRun === 'none') deps.journal?.note(step.verb, counts);
  printResults(
    io,
    o.output,
    step.kind,
    { context, dryRun: o.dryRun, summary: counts, wait: out.wait ?? null },
    out.results,
  );
  const dry = o.dryRun === 'none' ? '' : ` (dry run: ${o.dryRun})`;
  const toChange = counts.changed + counts.planned + counts.validated;
  info(
    io,
    `${step.verb}${dry}: ${toChange} ${o.dryRun === 'none' ? 'changed' : 'to change'}, ${counts.unchanged} unchanged, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} not attempted` : ''} in ${formatDuration(ms)}`,
  );
  const w = out.wait;
  if (w?.timedOut) {
    const shown = w.pending.slice(0, 10).join(', ');
    warn(
      io,
      `${plural(w.pending.length, 'instance')} never reported ${w.condition}: ${shown}${w.pending.length > 10 ? ', ...' : ''}`,
    );
    info(io, '  is the operator running? check: kubectl -n vworkspace-system get deployments');
  }
  if (counts.failed) return ExitCode.someFailed;
  if (w?.timedOut) return ExitCode.timeout;
  return ExitCode.ok;
}

/** Under an approved plan, every instance the step would change is one the plan names, by uid. */
function refuseOutsidePlan(o: InstanceStepOptions, step: InstanceStep, plan: InstancePlan) {
  if (!o.approved) return;
  const instances = plan.changes
    .filter((c) => c.resource.kind === 'ApplicationInstance' && c.seen)
    .map((c) => c.seen as KubeObject);
  const refused = o.approved.instances(instances);
  if (refused) throw new PreflightError(`refusing to ${step.verb}: ${refused.reason}`, refused.hint);
}

/**
 * Pause and resume, as kubectl's Complete/Validate/Run: the selection from the flags (and -f),
 * preflight (CRDs, then RBAC before any change), the plan, then apply-and-wait under the lock.
 */
export async function runInstanceStep(o: InstanceStepOptions, step: InstanceStep, deps: Deps): Promise<number> {
  const session = await deps.connect(o.connection, { concurrency: o.concurrency });
  const { client, target } = session;
  const selection = await readSelection(o.selection, target, deps);
  await requireOperatorCrds(client);
  await requireAccess(
    client,
    instanceNeedsOf(o, step.patches.includes(resources.helmReleases), selectionScope(selection)),
  );
  const plan = await step.plan(client, selection);
  refuseOutsidePlan(o, step, plan);
  const started = deps.clock.monotonic();
  // The run's signal: interrupted, or (under the lock) the lock lost; checked once the rows are out.
  let stopped = deps.signal;
  const apply = (signal: AbortSignal) => {
    stopped = signal;
    return applyInstancePlan(stepDeps(deps, client, signal), plan, {
      dryRun: o.dryRun,
      concurrency: o.concurrency,
      verb: step.verb,
      wait: o.wait ? { timeoutMs: o.timeoutMs, namespace: selectionScope(selection), report: step.report } : undefined,
    });
  };
  const outcome =
    o.dryRun === 'none'
      ? await withLock(deps, session, step.kind, (lock) => apply(lock.signal))
      : await apply(deps.signal);
  const code = finish(deps, o, step, target.context, outcome, deps.clock.monotonic() - started);
  throwIfInterrupted(stopped);
  return code;
}
