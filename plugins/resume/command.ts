import type { Argv, CommandModule } from 'yargs';
import { withGlobalFlags, withMutationFlags, withSelectionFlags, withWaitFlags } from '../../lib/cli/flags';
import { type InstanceStepArgs, runInstanceStep } from '../../lib/cli/instance-step';
import { processIO } from '../../lib/cli/io';
import { runAndExit } from '../../lib/cli/run';
import { resources } from '../../lib/operator/names';
import { planResume, reportsResumed } from '../../lib/steps/resume';

export type ResumeArgs = InstanceStepArgs & { 'force-all': boolean; 'skip-helmreleases': boolean };

export const resumeCommand: CommandModule<object, ResumeArgs> = {
  command: 'resume [names..]',
  describe: 'Reinstall path: undo pause (only what kubectl vw paused, unless --force-all)',
  builder: (y: Argv) =>
    withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))))
      .positional('names', { type: 'string', array: true, describe: 'ApplicationInstance names (in -n NAMESPACE)' })
      .option('force-all', {
        type: 'boolean',
        default: false,
        describe: 'Also clear pauses and suspensions that kubectl vw did not set',
      })
      .option('skip-helmreleases', { type: 'boolean', default: false, describe: 'Leave HelmReleases suspended' })
      .option('concurrency', { type: 'number', default: 16, describe: 'Requests in flight at once' })
      .example('kubectl vw resume --all', 'Resume everything kubectl vw pause paused, and un-suspend what it suspended')
      .example('kubectl vw resume -n shop web', 'Resume one instance')
      .example(
        'kubectl vw resume --all --force-all --dry-run=client',
        'Show what resuming every pause would change',
      ) as unknown as Argv<ResumeArgs>,
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runResume(args)),
};

/** The whole command, callable in-process (kubectl vw uninstall runs the steps this way). */
export function runResume(args: ResumeArgs): Promise<number> {
  return runInstanceStep(args, {
    kind: 'ResumeResult',
    verb: 'resume',
    patches: [resources.applicationInstances, ...(args['skip-helmreleases'] ? [] : [resources.helmReleases])],
    plan: (client, selection) =>
      planResume(client, { selection, forceAll: args['force-all'], skipHelmReleases: args['skip-helmreleases'] }),
    wait: { describe: 'Suspended=False (ReconcileResumed)', done: reportsResumed },
  });
}
