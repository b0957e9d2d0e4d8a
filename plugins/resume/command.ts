import type { Argv, CommandModule } from 'yargs';
import {
  concurrencyOf,
  type GlobalArgs,
  type MutationArgs,
  type WaitArgs,
  waitTimeoutMs,
  withGlobalFlags,
  withMutationFlags,
  withSelectionFlags,
  withWaitFlags,
} from '../../lib/cli/flags';
import { processIO } from '../../lib/cli/io';
import { runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { runStep } from '../../lib/cli/step-runner';
import { resources } from '../../lib/operator/names';
import { requireAccess, requireOperatorCrds } from '../../lib/preflight';
import { planResume, reportsResumed } from '../../lib/steps/resume';
import { type SelectionArgs, selectionFromArgs } from '../../lib/steps/selection';

export type ResumeArgs = GlobalArgs &
  MutationArgs &
  WaitArgs &
  SelectionArgs & { 'force-all': boolean; 'skip-helmreleases': boolean; concurrency: number };

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
export async function runResume(args: ResumeArgs): Promise<number> {
  const concurrency = concurrencyOf(args.concurrency);
  const timeoutMs = waitTimeoutMs(args);
  const session = openSession(args, { concurrency });
  const selection = selectionFromArgs(args, session.target.namespace, session.target.namespaceExplicit);
  const { client } = session;
  await requireOperatorCrds(client);
  const scope = selection.allNamespaces ? undefined : selection.namespace;
  const writes = args['dry-run'] !== 'client';
  await requireAccess(client, [
    { verb: 'list', group: resources.applicationInstances.group, resource: 'applicationinstances', namespace: scope },
    ...(writes
      ? [
          {
            verb: 'patch',
            group: resources.applicationInstances.group,
            resource: 'applicationinstances',
            namespace: scope,
          },
        ]
      : []),
    ...(args['skip-helmreleases']
      ? []
      : [
          { verb: 'list', group: resources.helmReleases.group, resource: 'helmreleases', namespace: scope },
          ...(writes
            ? [{ verb: 'patch', group: resources.helmReleases.group, resource: 'helmreleases', namespace: scope }]
            : []),
        ]),
  ]);
  const plan = await planResume(client, {
    selection,
    forceAll: args['force-all'],
    skipHelmReleases: args['skip-helmreleases'],
  });
  return runStep(session, {
    kind: 'ResumeResult',
    verb: 'resume',
    changes: plan.changes,
    invalid: plan.invalid,
    dryRun: args['dry-run'],
    output: args.output,
    concurrency,
    wait: args.wait
      ? {
          keys: plan.waitFor,
          namespace: scope,
          timeoutMs,
          describe: 'Suspended=False (ReconcileResumed)',
          done: reportsResumed,
        }
      : undefined,
  });
}
