import { plural } from '../plural';
import type { StepDeps } from '../deps';
import type { KubeObject, ResourceType } from '../kube/resources';
import { type WaitOutcome, waitForObjects } from '../kube/watch';
import { resources } from '../operator/names';
import { type ApplicationInstance, applicationInstanceSchema } from '../operator/schemas';
import { applyChanges, type PlannedChange } from './changes';
import type { DryRunMode, ObjectResult } from './results';

/** What pause and resume plan: the changes, objects that did not parse, and what to wait for. */
export interface InstancePlan {
  changes: PlannedChange[];
  invalid: { name: string; error: string }[];
  /** Instances ("ns/name") the operator must then report on. */
  waitFor: string[];
}

/** The condition the operator must report once an instance step's change is made. */
export interface OperatorReport {
  /** For messages, e.g. "Suspended=True (ReconcilePaused)". */
  describe: string;
  done: (ai: ApplicationInstance) => boolean;
}

export interface InstanceApplyOptions {
  dryRun: DryRunMode;
  concurrency: number;
  /** Wait for the operator's report, up to timeoutMs; undefined: do not wait. */
  wait?: { timeoutMs: number; namespace?: string; report: OperatorReport };
  verb: string;
}

export interface InstanceOutcome {
  results: ObjectResult[];
  wait?: WaitOutcome & { condition: string };
}

const invalidRows = (plan: InstancePlan): ObjectResult[] =>
  plan.invalid.map((inv) => ({
    kind: 'ApplicationInstance',
    name: inv.name,
    action: 'none',
    result: 'failed',
    message: `does not match the operator's schema: ${inv.error}`,
  }));

/** Phase 1: every planned change, with bounded concurrency. */
async function applyPlannedChanges(deps: StepDeps, plan: InstancePlan, opts: InstanceApplyOptions) {
  const todo = plan.changes.filter((c) => c.action !== 'none').length;
  const results = await applyChanges(deps, plan.changes, {
    dryRun: opts.dryRun,
    concurrency: opts.concurrency,
    onResult: (r, done) => {
      deps.report.progress(`${opts.verb}: ${done}/${plural(plan.changes.length, 'object')} (${todo} to change)`);
      if (r.result === 'failed')
        deps.report.warnEach('objects failed', `failed: ${r.kind} ${r.namespace}/${r.name}: ${r.message}`);
    },
  });
  deps.report.done();
  return results;
}

/** Phase 2: through a watch, until the operator reports the condition on every instance. */
async function waitForOperator(deps: StepDeps, keys: string[], wait: NonNullable<InstanceApplyOptions['wait']>) {
  let reported = 0;
  const done = new Set<string>();
  deps.report.waiting(() => {
    const first = keys.find((k) => !done.has(k));
    return `${keys.length - done.size} of ${plural(keys.length, 'instance')} yet to report ${wait.report.describe}${first ? `, e.g. ${first}` : ''}`;
  });
  const outcome = await waitForObjects(
    deps.client,
    resources.applicationInstances,
    keys,
    (obj?: KubeObject) => {
      const parsed = obj ? applicationInstanceSchema.safeParse(obj) : undefined;
      return Boolean(parsed?.success && wait.report.done(parsed.data));
    },
    {
      namespace: wait.namespace,
      timeoutMs: wait.timeoutMs,
      signal: deps.signal,
      onChange: (key, _obj, ok) => {
        if (!ok || done.has(key)) return;
        done.add(key);
        reported++;
        deps.report.progress(`waiting for ${wait.report.describe}: ${reported}/${keys.length} (${key})`);
      },
    },
  ).finally(() => deps.report.done());
  return { ...outcome, condition: wait.report.describe };
}

/** Marks the rows of instances the operator never confirmed. */
function notePending(results: ObjectResult[], pending: string[], describe: string) {
  const set = new Set(pending);
  for (const r of results) {
    if (r.kind === 'ApplicationInstance' && set.has(`${r.namespace}/${r.name}`) && r.result !== 'failed') {
      r.message = `${r.message ? `${r.message}; ` : ''}operator has not reported ${describe}`;
    }
  }
}

/** Applies an instance step's plan (pause or resume), then waits for the operator to report it. */
export async function applyInstancePlan(
  deps: StepDeps,
  plan: InstancePlan,
  opts: InstanceApplyOptions,
): Promise<InstanceOutcome> {
  const results = [...(await applyPlannedChanges(deps, plan, opts)), ...invalidRows(plan)];
  const interrupted = deps.signal.aborted;
  // An instance whose change failed (or was never attempted) will never be reported: its row
  // already says why, and waiting for it would only hold the run until --timeout.
  const notMade = new Set(
    results
      .filter((r) => r.kind === 'ApplicationInstance' && (r.result === 'failed' || r.result === 'skipped'))
      .map((r) => `${r.namespace}/${r.name}`),
  );
  const waitFor = plan.waitFor.filter((k) => !notMade.has(k));
  if (!opts.wait || opts.dryRun !== 'none' || !waitFor.length || interrupted) return { results };
  const wait = await waitForOperator(deps, waitFor, opts.wait);
  notePending(results, wait.pending, wait.condition);
  return { results, wait };
}

/** Which kinds an instance step lists, and patches unless it is a client-side dry run. */
export type InstanceKinds = ResourceType[];
