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
import { planPause, reportsPaused } from '../../lib/steps/pause';
import { type SelectionArgs, selectionFromArgs } from '../../lib/steps/selection';

export type PauseArgs = GlobalArgs &
  MutationArgs &
  WaitArgs &
  SelectionArgs & { 'suspend-helmreleases': boolean; 'all-helmreleases': boolean; concurrency: number };

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
export async function runPause(args: PauseArgs): Promise<number> {
  const concurrency = concurrencyOf(args.concurrency);
  const timeoutMs = waitTimeoutMs(args);
  const session = openSession(args, { concurrency });
  const selection = selectionFromArgs(args, session.target.namespace, session.target.namespaceExplicit);
  const { client } = session;
  await requireOperatorCrds(client);
  const scope = selection.allNamespaces ? undefined : selection.namespace;
  const suspending = args['suspend-helmreleases'] || args['all-helmreleases'];
  await requireAccess(client, [
    { verb: 'list', group: resources.applicationInstances.group, resource: 'applicationinstances', namespace: scope },
    ...(args['dry-run'] === 'client'
      ? []
      : [
          {
            verb: 'patch',
            group: resources.applicationInstances.group,
            resource: 'applicationinstances',
            namespace: scope,
          },
        ]),
    ...(suspending
      ? [
          { verb: 'list', group: resources.helmReleases.group, resource: 'helmreleases', namespace: scope },
          ...(args['dry-run'] === 'client'
            ? []
            : [{ verb: 'patch', group: resources.helmReleases.group, resource: 'helmreleases', namespace: scope }]),
        ]
      : []),
  ]);
  const plan = await planPause(client, {
    selection,
    suspendHelmReleases: args['suspend-helmreleases'],
    allHelmReleases: args['all-helmreleases'],
  });
  return runStep(session, {
    kind: 'PauseResult',
    verb: 'pause',
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
          describe: 'Suspended=True (ReconcilePaused)',
          done: reportsPaused,
        }
      : undefined,
  });
}
