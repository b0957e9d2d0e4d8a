import type { Deps } from '../../deps';
import { resources } from '../../operator/names';
import { pausedReport, planPause } from '../../steps/pause';
import { type InstanceStepOptions, runInstanceStep } from './instance-step';

export interface PauseOptions extends InstanceStepOptions {
  /** Also set spec.suspend on each selected instance's HelmRelease. */
  suspendHelmReleases: boolean;
  /** Suspend every HelmRelease in scope, as the procedure's second loop does. */
  allHelmReleases: boolean;
}

/** Step 1: annotate, suspend if asked, wait for Suspended=True/ReconcilePaused. */
export function runPause(o: PauseOptions, deps: Deps): Promise<number> {
  const hrs = o.suspendHelmReleases || o.allHelmReleases;
  return runInstanceStep(
    o,
    {
      kind: 'PauseResult',
      verb: 'pause',
      patches: [resources.applicationInstances, ...(hrs ? [resources.helmReleases] : [])],
      plan: (client, selection) =>
        planPause(
          client,
          { selection, suspendHelmReleases: o.suspendHelmReleases, allHelmReleases: o.allHelmReleases },
          new Date(deps.clock.now()).toISOString(),
        ),
      report: pausedReport,
    },
    deps,
  );
}
