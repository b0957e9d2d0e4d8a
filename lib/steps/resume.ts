import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/resources';
import { pauseAnnotation, pausedByAnnotation, resources, suspendedByAnnotation } from '../operator/names';
import { findCondition, type ApplicationInstance } from '../operator/schemas';
import { annotationsOf, type PlannedChange, slim } from './changes';
import type { InstancePlan, OperatorReport } from './instance-step';
import { helmReleaseNameOf, isPaused } from './pause';
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

const annotations = annotationsOf;
export const reportsResumed = (ai: ApplicationInstance) =>
  findCondition(ai.status?.conditions, 'Suspended')?.status !== 'True';
export const resumedReport: OperatorReport = { describe: 'Suspended=False (ReconcileResumed)', done: reportsResumed };

export function resumeInstanceChange(ai: KubeObject, forceAll: boolean): PlannedChange {
  const base = {
    resource: resources.applicationInstances,
    namespace: ai.metadata.namespace,
    name: ai.metadata.name,
    seen: slim(ai),
  };
  if (!isPaused(ai)) return { ...base, action: 'none', note: 'not paused' };
  if (!annotations(ai)[pausedByAnnotation] && !forceAll) {
    return { ...base, action: 'none', note: 'paused, but not by kubectl-vw (use --force-all to resume it)' };
  }
  return {
    ...base,
    action: 'resume',
    patchFor: (obj) =>
      isPaused(obj)
        ? { metadata: { annotations: { [pauseAnnotation]: null, [pausedByAnnotation]: null } } }
        : undefined,
  };
}

export function unsuspendHelmReleaseChange(hr: KubeObject, forceAll: boolean): PlannedChange {
  const base = {
    resource: resources.helmReleases,
    namespace: hr.metadata.namespace,
    name: hr.metadata.name,
    seen: slim(hr),
  };
  const suspended = (o: KubeObject) => (o.spec as { suspend?: boolean } | undefined)?.suspend === true;
  const byUs = (o: KubeObject) => Boolean(annotations(o)[suspendedByAnnotation]);
  if (!suspended(hr)) {
    // A stale marker (someone un-suspended by hand) is cleared so the record stays true.
    return byUs(hr)
      ? {
          ...base,
          action: 'forget',
          note: 'already resumed; clearing the kubectl-vw marker',
          patchFor: (o) => (byUs(o) ? { metadata: { annotations: { [suspendedByAnnotation]: null } } } : undefined),
        }
      : { ...base, action: 'none', note: 'not suspended' };
  }
  if (!byUs(hr) && !forceAll)
    return { ...base, action: 'none', note: 'suspended, but not by kubectl-vw (use --force-all)' };
  return {
    ...base,
    action: 'unsuspend',
    patchFor: (obj) =>
      suspended(obj)
        ? { metadata: { annotations: { [suspendedByAnnotation]: null } }, spec: { suspend: false } }
        : undefined,
  };
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
