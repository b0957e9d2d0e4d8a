import type { Argv, CommandModule } from 'yargs';
import { withGlobalFlags, withMutationFlags, withSelectionFlags, withWaitFlags } from '../../lib/cli/flags';
import { type InstanceStepArgs, runInstanceStep } from '../../lib/cli/instance-step';
import { processIO } from '../../lib/cli/io';
import { runAndExit } from '../../lib/cli/run';
import { resources } from '../../lib/operator/names';
import { planPause, reportsPaused } from '../../lib/steps/pause';

export type PauseArgs = InstanceStepArgs & { 'suspend-helmreleases': boolean; 'all-helmreleases': boolean };

export const pauseCommand: CommandModule<object, PauseArgs> = {
  command: 'pause [names..]',
  describe: 'Step 1: pause the operator (and optionally Flux) on ApplicationInstances',
  builder: (y: Argv) =>
    withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))))
      .positional('names', { type: 'string', array: true, describe: 'ApplicationInstance names (in -n NAMESPACE)' })
      .option('suspend-helmreleases', {
        type: 'boolean',
        default: false,
        describe: "Also suspend each instance's Flux HelmRelease (spec.suspend=true)",
      })
      .option('all-helmreleases', {
        type: 'boolean',
        default: false,
        describe: "Suspend every HelmRelease in scope, as the procedure's second loop does",
      })
      .option('concurrency', { type: 'number', default: 16, describe: 'Requests in flight at once' })
      .example('kubectl vw pause --all', 'Pause every ApplicationInstance in every namespace and wait for the operator')
      .example(
        'kubectl vw pause -n shop web db --suspend-helmreleases',
        'Pause two instances and suspend their HelmReleases',
      )
      .example(
        'kubectl vw pause -A -l tier=prod --dry-run=server',
        'Show and validate the plan without changing anything',
      )
      .example(
        'kubectl vw pause --all -o name | kubectl vw backup -f - --ttl 720h',
        'Feed the paused instances to the next step',
      ) as unknown as Argv<PauseArgs>,
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runPause(args)),
};

/** The whole command, callable in-process (kubectl vw uninstall runs the steps this way). */
export function runPause(args: PauseArgs): Promise<number> {
  return runInstanceStep(args, {
    kind: 'PauseResult',
    verb: 'pause',
    patches: [
      resources.applicationInstances,
      ...(args['suspend-helmreleases'] || args['all-helmreleases'] ? [resources.helmReleases] : []),
    ],
    plan: (client, selection) =>
      planPause(client, {
        selection,
        suspendHelmReleases: args['suspend-helmreleases'],
        allHelmReleases: args['all-helmreleases'],
      }),
    wait: { describe: 'Suspended=True (ReconcilePaused)', done: reportsPaused },
  });
}
