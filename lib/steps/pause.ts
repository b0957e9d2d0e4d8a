import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/resources';
import { pauseAnnotation, pausedByAnnotation, pauseValue, resources, suspendedByAnnotation } from '../operator/names';
import { type ApplicationInstance, findCondition } from '../operator/schemas';
import { annotationsOf, type PlannedChange, slim } from './changes';
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

const annotations = annotationsOf;
export const isPaused = (o: KubeObject) => annotations(o)[pauseAnnotation] === pauseValue;
export const helmReleaseNameOf = (ai: ApplicationInstance) => ai.status?.helmReleaseRef?.name ?? ai.metadata.name;
export const reportsPaused = (ai: ApplicationInstance) => {
  const c = findCondition(ai.status?.conditions, 'Suspended');
  return c?.status === 'True' && c.reason === 'ReconcilePaused';
};
/** What the operator reports once an instance is paused (operator-api.md, ApplicationInstance). */
export const pausedReport: OperatorReport = { describe: 'Suspended=True (ReconcilePaused)', done: reportsPaused };
const key = (o: { metadata: { namespace?: string; name: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;

export function pauseInstanceChange(ai: KubeObject, now: string): PlannedChange {
  const base = {
    resource: resources.applicationInstances,
    namespace: ai.metadata.namespace,
    name: ai.metadata.name,
    seen: slim(ai),
  };
  if (isPaused(ai)) {
    const byUs = annotations(ai)[pausedByAnnotation];
    return {
      ...base,
      action: 'none',
      note: byUs ? `already paused by kubectl-vw at ${byUs}` : 'already paused (not by kubectl-vw: resume leaves it)',
    };
  }
  return {
    ...base,
    action: 'pause',
    // Recording that this tool paused it is what lets resume undo exactly this run's work.
    patchFor: (obj) =>
      isPaused(obj)
        ? undefined
        : { metadata: { annotations: { [pauseAnnotation]: pauseValue, [pausedByAnnotation]: now } } },
  };
}

export function suspendHelmReleaseChange(hr: KubeObject, now: string): PlannedChange {
  const base = {
    resource: resources.helmReleases,
    namespace: hr.metadata.namespace,
    name: hr.metadata.name,
    seen: slim(hr),
  };
  const suspended = (o: KubeObject) => (o.spec as { suspend?: boolean } | undefined)?.suspend === true;
  if (suspended(hr)) {
    const byUs = annotations(hr)[suspendedByAnnotation];
    return {
      ...base,
      action: 'none',
      note: byUs
        ? `already suspended by kubectl-vw at ${byUs}`
        : 'already suspended (not by kubectl-vw: resume leaves it)',
    };
  }
  return {
    ...base,
    action: 'suspend',
    patchFor: (obj) =>
      suspended(obj)
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
