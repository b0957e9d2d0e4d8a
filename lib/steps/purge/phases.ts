import { mapLimit } from '../../concurrency';
import type { ActLock, StepDeps } from '../../deps';
import { ExitCode, TimeoutError, VwError } from '../../errors';
import { ApiError, isConflict, isNotFound } from '../../kube/api-error';
import { core, type KubeObject, type ResourceType } from '../../kube/resources';
import { objectKey, waitForObjects } from '../../kube/watch';
import { operatorNamespace, resources } from '../../operator/names';
import { actOnFresh, alsoJudged, preconditionsOf } from '../act';
import type { ApprovedPlan } from '../approved';
import { dryResult, type DryRunMode, type ObjectResult, skippedResult } from '../results';
import { crdGate, namespaceGate, type Step4Judge, step4Gate } from './gates';

export interface PhaseEvents {
  log: (line: string) => void;
  /** One call per object deleted (or that failed to be), for the per-object report. */
  result: (row: ObjectResult) => void;
  /** helm's own output, passed through. */
  helmOutput: (chunk: string) => void;
}

export interface PhaseOptions {
  dryRun: DryRunMode;
  timeoutMs: number;
  concurrency: number;
  /** The lock the deletes happen under (a real run); each phase's gate is judged again inside it. */
  lock: ActLock;
  /** The plan a run executes (uninstall --plan): each gate also judges that what it deletes is the plan's. */
  approved?: ApprovedPlan;
}

const errorText = (err: unknown) =>
  err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : (err as Error).message;

const baseRow = (r: ResourceType, o: KubeObject) => ({
  kind: r.kind,
  name: o.metadata.name,
  namespace: o.metadata.namespace,
  action: 'delete',
});

/**
 * Deletes one object as it was read (its uid and resourceVersion as preconditions), as a result
 * row: "already gone" is done, not a failure; 'conflict' when it moved on since the read.
 */
async function deleteOne(
  deps: StepDeps,
  r: ResourceType,
  o: KubeObject,
  dryRun: DryRunMode,
): Promise<ObjectResult | 'conflict'> {
  const row = baseRow(r, o);
  if (dryRun === 'client') return { ...row, result: 'planned' };
  try {
    await deps.client.delete(r, o.metadata.name, o.metadata.namespace, {
      dryRun: dryRun === 'server',
      preconditions: preconditionsOf(o),
    });
    return { ...row, result: dryResult(dryRun) };
  } catch (err) {
    if (isNotFound(err)) return { ...row, result: 'unchanged', message: 'already gone' };
    if (isConflict(err)) return 'conflict';
    return { ...row, result: 'failed', message: errorText(err) };
  }
}

const movedOn = (n: number, kind: string) =>
  new ApiError(409, 'Conflict', `${n} ${kind}s changed between their read and their delete`);

/**
 * Deletes every object of a fresh read, each with that read's preconditions. Those that moved on
 * meanwhile (409) make the act throw a conflict: actOnFresh then reads, judges and deletes again.
 * Objects already being deleted are left to go.
 */
async function deleteRead(deps: StepDeps, r: ResourceType, items: KubeObject[], opts: PhaseOptions, ev: PhaseEvents) {
  const todo = items.filter((o) => !o.metadata.deletionTimestamp);
  let conflicts = 0;
  const rows = await mapLimit(
    todo,
    opts.concurrency,
    async (o: KubeObject) => {
      const row = await deleteOne(deps, r, o, opts.dryRun);
      if (row === 'conflict') conflicts++;
      else ev.result(row);
      return row;
    },
    { stop: () => deps.signal.aborted, skipped: (o) => skippedResult(baseRow(r, o)) },
  );
  for (const row of rows) if (row !== 'conflict' && row.result === 'skipped') ev.result(row);
  if (conflicts && !deps.signal.aborted) throw movedOn(conflicts, r.kind);
  return rows.filter((x): x is ObjectResult => x !== 'conflict');
}

/** Waits for deleted objects to be gone; a finalizer holding them past the timeout is exit 4. */
async function waitGone(deps: StepDeps, r: ResourceType, keys: string[], timeoutMs: number, hint: string) {
  const w = await waitForObjects(deps.client, r, keys, (o) => !o, { timeoutMs, signal: deps.signal });
  if (w.timedOut) {
    throw new TimeoutError(
      `${w.pending.length} ${r.kind}s are still there after the timeout (${w.pending.slice(0, 5).join(', ')}): a finalizer is holding them`,
      hint,
    );
  }
}

/**
 * Step 4: deletes every ApplicationInstance, then every Operation, and waits until they are gone.
 * Each kind is read again inside the lock right before its deletes, and the applications' final
 * backups judged again on that read: an application resumed, or a backup gone, since the plan
 * stops it here.
 */
export async function deleteRemainingCrs(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents, judge: Step4Judge) {
  for (const r of [resources.applicationInstances, resources.operations]) {
    const { approved } = opts;
    const gate = alsoJudged(
      step4Gate(deps.client, r, judge),
      approved && {
        judge: (items: KubeObject[]) =>
          r === resources.applicationInstances ? approved.instances(items) : approved.operations(items),
      },
    );
    const rows = await actOnFresh(opts.lock, gate, async (items) => {
      if (items.length) ev.log(`deleting ${items.length} ${r.kind}s`);
      return deleteRead(deps, r, items, opts, ev);
    });
    const failed = rows.filter((x) => x.result === 'failed').length;
    // Nothing further (helm uninstall, CRDs) may run while custom resources are left behind.
    if (failed)
      throw new VwError(
        `${failed} ${r.kind}s could not be deleted (listed above); nothing further was done`,
        ExitCode.someFailed,
        'fix the reported errors, then re-run kubectl vw purge',
      );
    if (opts.dryRun !== 'none' || deps.signal.aborted) continue;
    const { items } = await deps.client.list(r);
    await waitGone(
      deps,
      r,
      items.map(objectKey),
      opts.timeoutMs,
      'check their finalizers: kubectl get applicationinstances,operations -A -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers',
    );
  }
}

/**
 * Deletes the operator's CRDs: inside the lock, every kind of theirs is counted again right before
 * (a CRD deleted deletes every object of its kind), and each CRD is deleted as then read.
 */
export async function deleteCrds(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents) {
  const gate = alsoJudged(
    crdGate(deps.client, opts.dryRun),
    opts.approved && { judge: (crds: KubeObject[]) => opts.approved?.crds(crds) },
  );
  const rows = await actOnFresh(opts.lock, gate, (crds) => deleteRead(deps, core.crds, crds, opts, ev));
  if (opts.dryRun === 'none' && !rows.some((x) => x.result === 'failed'))
    await waitGone(
      deps,
      core.crds,
      rows.map((x) => x.name),
      opts.timeoutMs,
      'see what holds them: kubectl get crd -o yaml | grep -A3 finalizers',
    );
}

/**
 * Deletes the operator's namespace (and with it the bootstrap credential Secret), judged again
 * inside the lock (no Cluster and no release left in it), and waits for it to go.
 */
export async function deleteOperatorNamespace(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents) {
  const gate = alsoJudged(
    namespaceGate(deps.client, opts.dryRun),
    opts.approved && { judge: (ns: KubeObject | undefined) => opts.approved?.namespace(ns) },
  );
  const rows = await actOnFresh(opts.lock, gate, (ns) =>
    ns ? deleteRead(deps, core.namespaces, [ns], opts, ev) : Promise.resolve([]),
  );
  const row = rows[0];
  if (row?.result === 'failed')
    throw new VwError(`could not delete namespace ${operatorNamespace}: ${row.message}`, ExitCode.someFailed);
  if (opts.dryRun !== 'none' || !row) return;
  const w = await waitForObjects(deps.client, core.namespaces, [operatorNamespace], (o) => !o, {
    timeoutMs: opts.timeoutMs,
    signal: deps.signal,
  });
  if (w.timedOut) {
    throw new TimeoutError(
      `namespace ${operatorNamespace} is still Terminating after the timeout`,
      `see what holds it: kubectl get namespace ${operatorNamespace} -o jsonpath='{.status.conditions}'`,
    );
  }
}
