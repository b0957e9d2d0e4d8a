import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { PurgeOptions } from '../../lib/cli/commands/purge';
import { defaults } from '../../lib/cli/defaults';
import {
  concurrencyOf,
  expiryMarginMs,
  type GlobalArgs,
  namesList,
  type MutationArgs,
  timeoutMs,
  toCommon,
  withConcurrencyFlag,
  withExpiryMarginFlag,
  withVeleroNamespaceFlag,
  veleroNamespaceOf,
  withGlobalFlags,
  withMutationFlags,
  withTimeoutFlag,
} from '../../lib/cli/flags';
import { UsageError } from '../../lib/errors';
import { operatorNamespace } from '../../lib/operator/names';

export type PurgeArgs = GlobalArgs &
  MutationArgs & {
    'delete-apps': boolean;
    'keep-apps'?: boolean;
    'skip-backup-check': boolean;
    'delete-crds': boolean;
    'delete-namespace': boolean;
    'delete-release-crds'?: string | string[];
    'force-preflight': boolean;
    helm?: string;
    report: boolean;
    timeout: string;
    concurrency: number;
    'expiry-margin': string;
    'velero-namespace'?: string;
  };

/** --keep-apps is the default said out loud; with --delete-apps, or negated, it asks two things at once. */
function keepOrDelete(args: PurgeArgs) {
  const keep = args['keep-apps'];
  if (keep === true && args['delete-apps'])
    throw new UsageError('--keep-apps and --delete-apps contradict each other: choose one');
  if (keep === false && !args['delete-apps'])
    throw new UsageError('--no-keep-apps: to delete the applications (step 4), pass --delete-apps');
  return { deleteApps: args['delete-apps'] };
}

export const purgeCommand: VwCommand<PurgeArgs, PurgeOptions> = {
  command: 'purge',
  describe:
    'Steps 4 and 5: remove the operator (helm uninstall), optionally its CRs, CRDs and namespace; report what persists',
  builder: (y: Argv) =>
    withVeleroNamespaceFlag(
      withExpiryMarginFlag(
        withConcurrencyFlag(
          withTimeoutFlag(
            withMutationFlags(withGlobalFlags(y)),
            defaults.timeout.purge,
            'How long to wait for each deletion',
          ),
        ),
      ),
    )
      .option('delete-apps', {
        type: 'boolean',
        default: false,
        describe: 'Step 4: delete remaining ApplicationInstances and Operations (their apps go too)',
      })
      .option('keep-apps', {
        type: 'boolean',
        describe: 'The default: keep applications running; their HelmReleases become orphans',
      })
      .option('skip-backup-check', {
        type: 'boolean',
        default: false,
        describe: 'Delete apps even without a final backup that counts',
      })
      .option('delete-crds', {
        type: 'boolean',
        default: false,
        describe: "Delete the operator's three CRDs (only when no object of their kinds is left)",
      })
      .option('delete-namespace', {
        type: 'boolean',
        default: false,
        describe: `Delete namespace ${operatorNamespace} and wait for it to go`,
      })
      .option('delete-release-crds', {
        // Repeatable and comma-separated; never a greedy array that would swallow the next word.
        type: 'string',
        describe:
          "Let helm uninstall delete these CRDs the release renders besides the operator's (comma-separated names), and every object of their kinds",
      })
      .option('force-preflight', {
        type: 'boolean',
        default: false,
        describe: 'Go on although a Cluster CR still exists (step 3 not done)',
      })
      .option('helm', { type: 'string', describe: 'Path of the helm binary (default: helm on PATH)' })
      .option('report', {
        type: 'boolean',
        default: false,
        describe: 'Only print what persists on this cluster, and how to purge each',
      })
      .example('kubectl vw purge --report', 'What persists on this cluster, and how to purge each')
      .example('kubectl vw purge', 'Show the plan, ask, then helm uninstall the operator; apps keep running')
      .example(
        'kubectl vw purge --delete-apps --delete-crds --delete-namespace --yes',
        'Wipe everything the operator managed (after final backups)',
      )
      .example(
        'kubectl vw purge --delete-apps --dry-run=client -o json',
        'The plan as JSON for a script',
      ) as unknown as Argv<PurgeArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    ...keepOrDelete(args),
    dryRun: args['dry-run'],
    yes: args.yes,
    skipBackupCheck: args['skip-backup-check'],
    deleteCrds: args['delete-crds'],
    deleteNamespace: args['delete-namespace'],
    deleteReleaseCrds: namesList(args['delete-release-crds']),
    forcePreflight: args['force-preflight'],
    helm: args.helm,
    report: args.report,
    timeoutMs: timeoutMs(args.timeout),
    concurrency: concurrencyOf(args.concurrency),
    marginMs: expiryMarginMs(args['expiry-margin']),
    veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/purge')).runPurge(o, deps),
};
