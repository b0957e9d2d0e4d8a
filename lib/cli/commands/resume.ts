import type { Deps } from '../../deps';
import { resources } from '../../operator/names';
import { planResume, resumedReport } from '../../steps/resume';
import { type InstanceStepOptions, runInstanceStep } from './instance-step';

export interface ResumeOptions extends InstanceStepOptions {
  /** Also clear pauses and suspensions kubectl vw did not set. */
  forceAll: boolean;
  /** Leave HelmReleases suspended. */
  skipHelmReleases: boolean;
}

/** The reinstall path: undo exactly what pause did, wait for Suspended=False. */
export function runResume(o: ResumeOptions, deps: Deps): Promise<number> {
  return runInstanceStep(
    o,
    {
      kind: 'ResumeResult',
      verb: 'resume',
      patches: [resources.applicationInstances, ...(o.skipHelmReleases ? [] : [resources.helmReleases])],
      plan: (client, selection) =>
        planResume(client, { selection, forceAll: o.forceAll, skipHelmReleases: o.skipHelmReleases }),
      report: resumedReport,
    },
    deps,
  );
}
