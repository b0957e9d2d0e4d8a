import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/resources';
import { pauseAnnotation, pausedByAnnotation, pauseValue, resources, suspendedByAnnotation } from '../operator/names';
import { type ApplicationInstance, findCondition } from '../operator/schemas';
import { annotationsOf, type PlannedChange, slim } from './changes';
import { isPaused, isSuspended, pausedByTool, staleSuspendMarker, stalePauseMarker, suspendedByTool } from './markers';
import type { InstancePlan, OperatorReport } from './instance-step';
import { type Selection, selectInstances } from './selection';

export interface PauseOptions {
  selection: Selection;
  /** Also set spec.suspend on each selected instance's HelmRelease. */
  suspendHelmReleases: boolean;
  /** Suspend every HelmRelease in scope, not only the instances' own (the procedure's second loop). */
  allHelmReleases: boolean;
}

/** waitFor: instances that must end with Suspended=True/ReconcilePaused. */
export type PausePlan = InstancePlan;

export { isPaused } from './markers';
export const helmReleaseNameOf = (ai: ApplicationInstance) => ai.status?.helmReleaseRef?.name ?? ai.metadata.name;
export const reportsPaused = (ai: ApplicationInstance) => {
  const c = findCondition(ai.status?.conditions, 'Suspended');
  return c?.status === 'True' && c.reason === 'ReconcilePaused';
};
/** What the operator reports once an instance is paused (operator-api.md, ApplicationInstance). */
export const pausedReport: OperatorReport = { describe: 'Suspended=True (ReconcilePaused)', done: reportsPaused };
const key = (o: { metadata: { namespace?: string; name: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;

const base = (o: KubeObject, resource: PlannedChange['resource']) => ({
  resource,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
  seen: slim(o),
});

/** Clears a marker that no longer tells the truth (the object is someone else's to resume). */
export const forgetMarker = (
  o: KubeObject,
  resource: PlannedChange['resource'],
  marker: string,
  stillStale: (x: KubeObject) => boolean,
  note: string,
): PlannedChange => ({
  ...base(o, resource),
  action: 'forget',
  note,
  patchFor: (obj) => (stillStale(obj) ? { metadata: { annotations: { [marker]: null } } } : undefined),
});

export function pauseInstanceChange(ai: KubeObject, now: string): PlannedChange {
  const at = base(ai, resources.applicationInstances);
  if (pausedByTool(ai))
    return { ...at, action: 'none', note: `already paused by kubectl-vw at ${annotationsOf(ai)[pausedByAnnotation]}` };
  if (isPaused(ai) && stalePauseMarker(ai))
    return forgetMarker(
      ai,
      resources.applicationInstances,
      pausedByAnnotation,
      stalePauseMarker,
      "already paused, by someone else since: clearing kubectl-vw's stale marker",
    );
  if (isPaused(ai)) return { ...at, action: 'none', note: 'already paused (not by kubectl-vw: resume leaves it)' };
  return {
    ...at,
    action: 'pause',
    // Recording that this tool paused it is what lets resume undo exactly this run's work.
    patchFor: (obj) =>
      isPaused(obj)
        ? undefined
        : { metadata: { annotations: { [pauseAnnotation]: pauseValue, [pausedByAnnotation]: now } } },
  };
}

export function suspendHelmReleaseChange(hr: KubeObject, now: string): PlannedChange {
  const at = base(hr, resources.helmReleases);
  if (suspendedByTool(hr))
    return {
      ...at,
      action: 'none',
      note: `already suspended by kubectl-vw at ${annotationsOf(hr)[suspendedByAnnotation]}`,
    };
  if (isSuspended(hr) && staleSuspendMarker(hr))
    return forgetMarker(
      hr,
      resources.helmReleases,
      suspendedByAnnotation,
      staleSuspendMarker,
      "already suspended, by someone else since: clearing kubectl-vw's stale marker",
    );
  if (isSuspended(hr))
    return { ...at, action: 'none', note: 'already suspended (not by kubectl-vw: resume leaves it)' };
  return {
    ...at,
    action: 'suspend',
    patchFor: (obj) =>
      isSuspended(obj)
        ? undefined
        : { metadata: { annotations: { [suspendedByAnnotation]: now } }, spec: { suspend: true } },
  };
}

/** Step 1, read-only: what pausing this selection would change. */
export async function planPause(
  client: KubeClient,
  opts: PauseOptions,
  now = new Date().toISOString(),
): Promise<PausePlan> {
  const { instances, invalid } = await selectInstances(client, opts.selection);
  const changes = instances.map((ai) => pauseInstanceChange(ai as KubeObject, now));
  if (opts.suspendHelmReleases || opts.allHelmReleases) {
    const hrs = new Map<string, KubeObject>();
    if (opts.allHelmReleases) {
      const ns = opts.selection.allNamespaces ? undefined : opts.selection.namespace;
      for await (const hr of client.listItems(resources.helmReleases, { namespace: ns })) hrs.set(key(hr), hr);
    } else {
      const byNs = new Set(instances.map((ai) => ai.metadata.namespace ?? ''));
      const all = new Map<string, KubeObject>();
      for (const ns of byNs)
        for await (const hr of client.listItems(resources.helmReleases, { namespace: ns })) all.set(key(hr), hr);
      for (const ai of instances) {
        const k = `${ai.metadata.namespace}/${helmReleaseNameOf(ai)}`;
        const hr = all.get(k);
        if (hr) hrs.set(k, hr);
        else
          changes.push({
            resource: resources.helmReleases,
            namespace: ai.metadata.namespace,
            name: helmReleaseNameOf(ai),
            action: 'none',
            note: 'no HelmRelease found for this instance',
          });
      }
    }
    for (const hr of hrs.values()) changes.push(suspendHelmReleaseChange(hr, now));
  }
  return { changes, invalid, waitFor: instances.map(key) };
}
