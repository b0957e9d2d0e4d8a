import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { ResumeOptions } from '../../lib/cli/commands/resume';
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

export type ResumeArgs = GlobalArgs &
  MutationArgs &
  WaitArgs &
  SelectionArgs & { concurrency: number; 'force-all': boolean; 'skip-helmreleases': boolean };

export const resumeCommand: VwCommand<ResumeArgs, ResumeOptions> = {
  command: 'resume [names..]',
  describe: 'Reinstall path: undo pause (only what kubectl vw paused, unless --force-all)',
  builder: (y: Argv) =>
    withConcurrencyFlag(
      withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))), defaults.timeout.resume),
    )
      .option('force-all', {
        type: 'boolean',
        default: false,
        describe: 'Also clear pauses and suspensions that kubectl vw did not set',
      })
      .option('skip-helmreleases', { type: 'boolean', default: false, describe: 'Leave HelmReleases suspended' })
      .example('kubectl vw resume --all', 'Resume everything kubectl vw pause paused, and un-suspend what it suspended')
      .example('kubectl vw resume -n shop web', 'Resume one instance')
      .example(
        'kubectl vw resume --all --force-all --dry-run=client',
        'Show what resuming every pause would change',
      ) as unknown as Argv<ResumeArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    selection: toSelection(args),
    dryRun: args['dry-run'],
    concurrency: concurrencyOf(args.concurrency),
    wait: args.wait,
    timeoutMs: timeoutMs(args.timeout),
    forceAll: args['force-all'],
    skipHelmReleases: args['skip-helmreleases'],
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/resume')).runResume(o, deps),
};
