import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { PauseOptions } from '../../lib/cli/commands/pause';
import { defaults } from '../../lib/cli/defaults';
import {
  concurrencyOf,
  type GlobalArgs,
  type MutationArgs,
  type SelectionArgs,
  timeoutMs,
  toCommon,
  toSelection,
  type WaitArgs,
  withConcurrencyFlag,
  withGlobalFlags,
  withMutationFlags,
  withSelectionFlags,
  withWaitFlags,
} from '../../lib/cli/flags';

export type PauseArgs = GlobalArgs &
  MutationArgs &
  WaitArgs &
  SelectionArgs & { concurrency: number; 'suspend-helmreleases': boolean; 'all-helmreleases': boolean };

export const pauseCommand: VwCommand<PauseArgs, PauseOptions> = {
  command: 'pause [names..]',
  describe: 'Step 1: pause the operator (and optionally Flux) on ApplicationInstances',
  builder: (y: Argv) =>
    withConcurrencyFlag(
      withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))), defaults.timeout.pause),
    )
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
        'kubectl vw pause --all -o name | kubectl vw backup -A -f - --ttl 720h',
        'Feed the paused instances to the next step',
      ) as unknown as Argv<PauseArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    selection: toSelection(args),
    dryRun: args['dry-run'],
    concurrency: concurrencyOf(args.concurrency),
    wait: args.wait,
    timeoutMs: timeoutMs(args.timeout),
    suspendHelmReleases: args['suspend-helmreleases'],
    allHelmReleases: args['all-helmreleases'],
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/pause')).runPause(o, deps),
};
