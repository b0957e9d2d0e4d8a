import { mapLimit } from '../concurrency';
import type { ObjectResult } from '../cli/output';
import type { DryRunMode } from '../cli/flags';
import { ApiError, isConflict, isNotFound } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import type { KubeObject, ResourceType } from '../kube/resources';

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
  const { name, namespace, resourceVersion, annotations } = o.metadata;
  const suspend = (o.spec as { suspend?: boolean } | undefined)?.suspend;
  return {
    metadata: { name, namespace, resourceVersion, annotations },
    spec: suspend === undefined ? {} : { suspend },
  };
}

/** What pause and resume plan: the changes, objects that did not parse, and what to wait for. */
export interface InstancePlan {
  changes: PlannedChange[];
  invalid: { name: string; error: string }[];
  /** Instances ("ns/name") the operator must then report on. */
  waitFor: string[];
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

async function applyOne(client: KubeClient, change: PlannedChange, dryRun: DryRunMode): Promise<ObjectResult> {
  const row = planRow(change);
  if (!change.patchFor || change.action === 'none') return row;
  let obj = change.seen ?? (await client.get(change.resource, change.name, change.namespace));
  if (dryRun === 'client') return { ...row, result: 'planned', message: change.note };
  for (let attempt = 1; attempt <= 8; attempt++) {
    const patch = change.patchFor(obj);
    if (!patch)
      return { ...row, result: 'unchanged', message: attempt > 1 ? 'already done by another writer' : change.note };
    try {
      await client.mergePatch(change.resource, change.name, change.namespace, withResourceVersion(patch, obj), {
        dryRun: dryRun === 'server',
      });
      return { ...row, result: dryRun === 'server' ? 'validated' : 'changed', message: change.note };
    } catch (err) {
      if (isNotFound(err)) return { ...row, result: 'failed', message: 'deleted while the command ran' };
      if (!isConflict(err)) {
        return {
          ...row,
          result: 'failed',
          message: err instanceof ApiError ? `${err.status} ${err.reason}: ${err.message}` : String(err),
        };
      }
      obj = await client.get(change.resource, change.name, change.namespace);
    }
  }
  return { ...row, result: 'failed', message: 'kept conflicting with another writer' };
}

/** Applies changes with bounded concurrency; every object gets a result row, failures included. */
export async function applyChanges(
  client: KubeClient,
  changes: PlannedChange[],
  opts: { dryRun: DryRunMode; concurrency: number; onResult?: (r: ObjectResult, done: number) => void },
): Promise<ObjectResult[]> {
  let done = 0;
  return mapLimit(changes, opts.concurrency, async (c) => {
    const r = await applyOne(client, c, opts.dryRun).catch(
      (err): ObjectResult => ({ ...planRow(c), result: 'failed', message: (err as Error).message }),
    );
    opts.onResult?.(r, ++done);
    return r;
  });
}
