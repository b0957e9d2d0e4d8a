import { mapLimit } from '../../concurrency';
import type { StepDeps } from '../../deps';
import { ExitCode, PreflightError, TimeoutError, VwError } from '../../errors';
import { ApiError, isNotFound } from '../../kube/api-error';
import { core, type KubeObject, type ResourceType } from '../../kube/resources';
import { objectKey, waitForObjects } from '../../kube/watch';
import { operatorCrds, operatorNamespace, resources } from '../../operator/names';
import { dryResult, type DryRunMode, type ObjectResult, skippedResult } from '../results';
import { countAll, crKinds } from './plan';

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
}

const errorText = (err: unknown) =>
  err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : (err as Error).message;

/** Deletes one object, as a result row: "already gone" is done, not a failure. */
async function deleteOne(deps: StepDeps, r: ResourceType, o: KubeObject, dryRun: DryRunMode): Promise<ObjectResult> {
  const row = { kind: r.kind, name: o.metadata.name, namespace: o.metadata.namespace, action: 'delete' };
  try {
    await deps.client.delete(r, o.metadata.name, o.metadata.namespace, { dryRun: dryRun === 'server' });
    return { ...row, result: dryResult(dryRun) };
  } catch (err) {
    if (isNotFound(err)) return { ...row, result: 'unchanged', message: 'already gone' };
    return { ...row, result: 'failed', message: errorText(err) };
  }
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

/** Deletes every ApplicationInstance and Operation and waits until they are gone (step 4). */
export async function deleteRemainingCrs(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents) {
  for (const r of [resources.applicationInstances, resources.operations]) {
    const { items } = await deps.client.list(r);
    if (!items.length) continue;
    ev.log(`deleting ${items.length} ${r.kind}s`);
    const rows = await mapLimit(
      items,
      opts.concurrency,
      async (o: KubeObject) => {
        const row =
          opts.dryRun === 'client'
            ? { ...baseRow(r, o), result: 'planned' as const }
            : await deleteOne(deps, r, o, opts.dryRun);
        ev.result(row);
        return row;
      },
      { stop: () => deps.signal.aborted, skipped: (o) => skippedResult(baseRow(r, o)) },
    );
    const failed = rows.filter((x) => x.result === 'failed').length;
    // Nothing further (helm uninstall, CRDs) may run while custom resources are left behind.
    if (failed)
      throw new VwError(
        `${failed} ${r.kind}s could not be deleted (listed above); nothing further was done`,
        ExitCode.someFailed,
        'fix the reported errors, then re-run kubectl vw purge',
      );
    if (opts.dryRun !== 'none' || deps.signal.aborted) continue;
    await waitGone(
      deps,
      r,
      items.map(objectKey),
      opts.timeoutMs,
      'check their finalizers: kubectl get applicationinstances,operations -A -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers',
    );
  }
}

const baseRow = (r: ResourceType, o: KubeObject) => ({
  kind: r.kind,
  name: o.metadata.name,
  namespace: o.metadata.namespace,
  action: 'delete',
});

/** Deletes the operator's CRDs, refusing while any object of their kinds remains. */
export async function deleteCrds(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents) {
  const remaining: string[] = [];
  // A dry run of step 4 left the objects in place; the plan already checked they would go first.
  for (const r of opts.dryRun === 'none' ? crKinds : []) {
    const n = await countAll(deps.client, r);
    if (n) remaining.push(`${n} ${r.kind}${n > 1 ? 's' : ''}`);
  }
  if (remaining.length) {
    throw new PreflightError(
      `refusing to delete the CRDs: ${remaining.join(', ')} still exist, and deleting a CRD deletes every object of its kind`,
      'remove them first with --delete-apps (step 4), or keep the CRDs',
    );
  }
  for (const name of operatorCrds) {
    const crd = { metadata: { name } };
    ev.result(
      opts.dryRun === 'client'
        ? { ...baseRow(core.crds, crd), result: 'planned' }
        : await deleteOne(deps, core.crds, crd, opts.dryRun),
    );
  }
  if (opts.dryRun === 'none')
    await waitGone(
      deps,
      core.crds,
      [...operatorCrds],
      opts.timeoutMs,
      'see what holds them: kubectl get crd -o yaml | grep -A3 finalizers',
    );
}

/** Deletes the operator's namespace (and with it the bootstrap credential Secret), waiting for it to go. */
export async function deleteOperatorNamespace(deps: StepDeps, opts: PhaseOptions, ev: PhaseEvents) {
  const ns = { metadata: { name: operatorNamespace } };
  const row =
    opts.dryRun === 'client'
      ? { ...baseRow(core.namespaces, ns), result: 'planned' as const }
      : await deleteOne(deps, core.namespaces, ns, opts.dryRun);
  ev.result(row);
  if (row.result === 'failed')
    throw new VwError(`could not delete namespace ${operatorNamespace}: ${row.message}`, ExitCode.someFailed);
  if (opts.dryRun !== 'none' || row.result === 'unchanged') return;
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
