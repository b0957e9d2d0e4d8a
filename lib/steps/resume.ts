import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/resources';
import { pauseAnnotation, pausedByAnnotation, resources, suspendedByAnnotation } from '../operator/names';
import { findCondition, type ApplicationInstance } from '../operator/schemas';
import { type PlannedChange, slim } from './changes';
import type { InstancePlan, OperatorReport } from './instance-step';
import { forgetMarker, helmReleaseNameOf } from './pause';
import { isPaused, isSuspended, pausedByTool, stalePauseMarker, staleSuspendMarker, suspendedByTool } from './markers';
import { type Selection, selectInstances } from './selection';

export interface ResumeOptions {
  selection: Selection;
  /** Clear every pause and suspension in scope, not only those this tool set. */
  forceAll: boolean;
  /** Leave HelmReleases alone. */
  skipHelmReleases: boolean;
}

/** waitFor: instances that must end with Suspended=False/ReconcileResumed. */
export type ResumePlan = InstancePlan;

export const reportsResumed = (ai: ApplicationInstance) =>
  findCondition(ai.status?.conditions, 'Suspended')?.status !== 'True';
export const resumedReport: OperatorReport = { describe: 'Suspended=False (ReconcileResumed)', done: reportsResumed };

const base = (o: KubeObject, resource: PlannedChange['resource']) => ({
  resource,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
  seen: slim(o),
});

export function resumeInstanceChange(ai: KubeObject, forceAll: boolean): PlannedChange {
  const at = base(ai, resources.applicationInstances);
  const resume: PlannedChange = {
    ...at,
    action: 'resume',
    patchFor: (obj) =>
      isPaused(obj)
        ? { metadata: { annotations: { [pauseAnnotation]: null, [pausedByAnnotation]: null } } }
        : undefined,
  };
  if (pausedByTool(ai) || (isPaused(ai) && forceAll)) return resume;
  // A marker that no longer tells the truth is cleared: a later pause by hand must never be undone.
  if (stalePauseMarker(ai)) {
    const why = isPaused(ai) ? 'paused again by someone else since kubectl-vw paused it' : 'not paused any more';
    return forgetMarker(
      ai,
      resources.applicationInstances,
      pausedByAnnotation,
      stalePauseMarker,
      `${why}: clearing kubectl-vw's stale marker`,
    );
  }
  if (!isPaused(ai)) return { ...at, action: 'none', note: 'not paused' };
  return { ...at, action: 'none', note: 'paused, but not by kubectl-vw (use --force-all to resume it)' };
}

export function unsuspendHelmReleaseChange(hr: KubeObject, forceAll: boolean): PlannedChange {
  const at = base(hr, resources.helmReleases);
  const unsuspend: PlannedChange = {
    ...at,
    action: 'unsuspend',
    patchFor: (obj) =>
      isSuspended(obj)
        ? { metadata: { annotations: { [suspendedByAnnotation]: null } }, spec: { suspend: false } }
        : undefined,
  };
  if (suspendedByTool(hr) || (isSuspended(hr) && forceAll)) return unsuspend;
  if (staleSuspendMarker(hr)) {
    const why = isSuspended(hr) ? 'suspended again by someone else since kubectl-vw suspended it' : 'already resumed';
    return forgetMarker(
      hr,
      resources.helmReleases,
      suspendedByAnnotation,
      staleSuspendMarker,
      `${why}: clearing kubectl-vw's stale marker`,
    );
  }
  if (!isSuspended(hr)) return { ...at, action: 'none', note: 'not suspended' };
  return { ...at, action: 'none', note: 'suspended, but not by kubectl-vw (use --force-all)' };
}

/** The reinstall path's last step, read-only: what resuming would change. */
export async function planResume(client: KubeClient, opts: ResumeOptions): Promise<ResumePlan> {
  const { instances, invalid } = await selectInstances(client, opts.selection);
  const changes = instances.map((ai) => resumeInstanceChange(ai as KubeObject, opts.forceAll));
  if (!opts.skipHelmReleases) {
    const named = opts.selection.names.length > 0 || Boolean(opts.selection.selector);
    const own = new Set(instances.map((ai) => `${ai.metadata.namespace}/${helmReleaseNameOf(ai)}`));
    const ns = opts.selection.allNamespaces ? undefined : opts.selection.namespace;
    for await (const hr of client.listItems(resources.helmReleases, { namespace: ns })) {
      const k = `${hr.metadata.namespace}/${hr.metadata.name}`;
      // With names or a selector, only those instances' releases; otherwise every release in scope
      // (pause --all-helmreleases suspends releases that belong to no instance).
      if (named && !own.has(k)) continue;
      const change = unsuspendHelmReleaseChange(hr, opts.forceAll);
      if (change.action !== 'none' || own.has(k)) changes.push(change);
    }
  }
  const waitFor = changes
    .filter((c) => c.resource === resources.applicationInstances && c.action === 'resume')
    .map((c) => `${c.namespace}/${c.name}`);
  return { changes, invalid, waitFor };
}
