import { mapLimit, sleep } from '../concurrency';
import type { StepDeps } from '../deps';
import { ApiError, isConflict, isNotFound } from '../kube/api-error';
import type { KubeObject, ResourceType } from '../kube/resources';
import { markerFields } from './markers';
import { type DryRunMode, dryResult, type ObjectResult, skippedResult } from './results';

/**
 * One planned change to one object: a merge patch computed from the object as last seen. The
 * patch carries that resourceVersion, so a concurrent writer turns it into a 409; then the object
 * is re-read and the patch recomputed (or dropped when someone already did the work).
 */
export interface PlannedChange {
  resource: ResourceType;
  namespace?: string;
  name: string;
  action: string;
  /** Why nothing is planned, for rows with action "none". */
  note?: string;
  seen?: KubeObject;
  /** The merge patch to apply to `obj`, or undefined when it needs no change. */
  patchFor?: (obj: KubeObject) => Record<string, unknown> | undefined;
}

/**
 * What a plan keeps of an object: enough to compute its patch (annotations, spec.suspend) and to
 * make the patch conditional (resourceVersion). A plan for thousands of objects then costs a few
 * hundred bytes each, not each object's whole spec and status.
 */
export function slim(o: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, annotations } = o.metadata;
  const suspend = (o.spec as { suspend?: boolean } | undefined)?.suspend;
  return {
    metadata: { name, namespace, uid, resourceVersion, annotations, managedFields: markerFields(o) },
    spec: suspend === undefined ? {} : { suspend },
  };
}

export const annotationsOf = (o: KubeObject) => o.metadata.annotations ?? {};

export const planRow = (c: PlannedChange): ObjectResult => ({
  kind: c.resource.kind,
  namespace: c.namespace,
  name: c.name,
  action: c.action,
  result: 'unchanged',
  message: c.note,
});

function withResourceVersion(patch: Record<string, unknown>, obj: KubeObject) {
  const metadata = (patch.metadata as Record<string, unknown> | undefined) ?? {};
  return { ...patch, metadata: { ...metadata, resourceVersion: obj.metadata.resourceVersion } };
}

const failed = (row: ObjectResult, err: unknown): ObjectResult => ({
  ...row,
  result: 'failed',
  message: err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : (err as Error).message,
});

async function applyOne(deps: StepDeps, change: PlannedChange, dryRun: DryRunMode): Promise<ObjectResult> {
  const row = planRow(change);
  if (!change.patchFor || change.action === 'none') return row;
  if (dryRun === 'client') return { ...row, result: 'planned' };
  const { client } = deps;
  let obj = change.seen ?? (await client.get(change.resource, change.name, change.namespace));
  for (let attempt = 1; attempt <= 16; attempt++) {
    const patch = change.patchFor(obj);
    if (!patch)
      return { ...row, result: 'unchanged', message: attempt > 1 ? 'already done by another writer' : change.note };
    try {
      await client.mergePatch(change.resource, change.name, change.namespace, withResourceVersion(patch, obj), {
        dryRun: dryRun === 'server',
        // Only whether it was admitted matters here: 10,000 patched objects are never parsed.
        discardBody: true,
      });
      return { ...row, result: dryResult(dryRun) };
    } catch (err) {
      if (isNotFound(err)) return { ...row, result: 'failed', message: 'deleted while the command ran' };
      if (!isConflict(err)) return failed(row, err);
      // A busy writer: back off a little (with jitter) before re-reading, so we are not starved.
      await sleep(Math.random() * Math.min(10 * 2 ** attempt, 1_000));
      obj = await client.get(change.resource, change.name, change.namespace);
      // Identity is the uid: an object made again under the same name is not the one planned.
      const planned = change.seen?.metadata.uid;
      if (planned && obj.metadata.uid !== planned)
        return { ...row, result: 'failed', message: `replaced since it was planned (uid ${planned} is gone)` };
    }
  }
  return { ...row, result: 'failed', message: 'kept conflicting with another writer' };
}

/**
 * Applies changes with bounded concurrency; every object gets a result row, failures included.
 * Once the run is interrupted (or loses its lock), no further object is started: those are
 * reported as skipped.
 */
export async function applyChanges(
  deps: StepDeps,
  changes: PlannedChange[],
  opts: { dryRun: DryRunMode; concurrency: number; onResult?: (r: ObjectResult, done: number) => void },
): Promise<ObjectResult[]> {
  let done = 0;
  return mapLimit(
    changes,
    opts.concurrency,
    async (c) => {
      const r = await applyOne(deps, c, opts.dryRun).catch((err): ObjectResult => failed(planRow(c), err));
      opts.onResult?.(r, ++done);
      return r;
    },
    { stop: () => deps.signal.aborted, skipped: (c) => skippedResult(planRow(c)) },
  );
}
