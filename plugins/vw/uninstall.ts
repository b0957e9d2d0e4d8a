import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { UninstallOptions } from '../../lib/cli/commands/uninstall';
import { defaults } from '../../lib/cli/defaults';
import {
  expiryMarginMs,
  type GlobalArgs,
  type MutationArgs,
  namesList,
  timeoutMs,
  toCommon,
  veleroNamespaceOf,
  withGlobalFlags,
  withMutationFlags,
  withTimeoutFlag,
} from '../../lib/cli/flags';
import { requirePositiveDuration } from '../../lib/duration';
import type { PlanOptions } from '../../lib/steps/plan-file/document';

// The options a plan records have no yargs default: the defaults are applied in toOptions, so a
// run of a plan knows which of them the command line gave (and compares those with the plan's).
type UninstallArgs = GlobalArgs &
  MutationArgs & {
    ttl?: string;
    'skip-backup'?: boolean;
    'suspend-helmreleases'?: boolean;
    'delete-apps'?: boolean;
    'delete-crds'?: boolean;
    'delete-namespace'?: boolean;
    'delete-release-crds'?: string | string[];
    'storage-location'?: string;
    timeout: string;
    helm?: string;
    'expiry-margin'?: string;
    'velero-namespace'?: string;
    'allow-short-ttl'?: boolean;
    plan?: string;
    'plan-out'?: string;
    'max-plan-age': string;
  };

/** The plan options the command line gave, as given. */
function givenOf(args: UninstallArgs): Partial<PlanOptions> {
  const given: Partial<PlanOptions> = {
    ttl: args.ttl,
    skipBackup: args['skip-backup'],
    storageLocation: args['storage-location'],
    suspendHelmReleases: args['suspend-helmreleases'],
    deleteApps: args['delete-apps'],
    deleteCrds: args['delete-crds'],
    deleteNamespace: args['delete-namespace'],
    deleteReleaseCrds:
      args['delete-release-crds'] === undefined ? undefined : namesList(args['delete-release-crds']).sort(),
    expiryMargin: args['expiry-margin'],
    veleroNamespace: args['velero-namespace'],
    allowShortTtl: args['allow-short-ttl'],
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

const bool = (describe: string) => ({ type: 'boolean' as const, defaultDescription: 'false', describe });

function withPlanFlags(y: Argv) {
  return y
    .option('plan-out', {
      type: 'string',
      describe: 'Write the plan of this uninstall to FILE ("-": stdout) for review; reads only, changes nothing',
    })
    .option('plan', {
      type: 'string',
      describe: 'Run exactly the plan in FILE (its options, its objects by uid), or refuse: another cluster, drift',
    })
    .option('max-plan-age', {
      type: 'string',
      default: defaults.maxPlanAge,
      describe: 'With --plan: refuse a plan made longer ago than this (a Go duration)',
    });
}

/** The flags of what is planned: recorded by --plan-out, compared by --plan. */
function withPlannedFlags(y: Argv) {
  return y
    .option('expiry-margin', {
      type: 'string',
      defaultDescription: defaults.backup.expiryMargin,
      describe: 'A final backup counts only if it expires later than this from now (a Go duration)',
    })
    .option('velero-namespace', {
      type: 'string',
      defaultDescription: defaults.backup.veleroNamespace,
      describe: 'Namespace of Velero, its Backups and storage locations',
    })
    .option('allow-short-ttl', bool('Accept a --ttl shorter than --expiry-margin'))
    .option('ttl', {
      type: 'string',
      describe: 'Final backup retention, a Go duration (e.g. 8760h). Required unless --skip-backup',
    })
    .option('skip-backup', bool('Skip step 2 (no final backups)'))
    .option('storage-location', {
      type: 'string',
      defaultDescription: defaults.backup.storageLocation,
      describe: 'Velero BackupStorageLocation for step 2',
    })
    .option('suspend-helmreleases', bool('Step 1 also suspends Flux HelmReleases'))
    .option('delete-apps', bool('Step 4: delete ApplicationInstances and Operations (and so the apps)'))
    .option('delete-crds', bool("Step 5: delete the operator's CRDs"))
    .option('delete-namespace', bool('Step 5: delete vworkspace-system'))
    .option('delete-release-crds', {
      // Repeatable and comma-separated; never a greedy array that would swallow the next word.
      type: 'string',
      describe: "Step 5: let helm uninstall delete these CRDs of the release besides the operator's (comma-separated)",
    });
}

export const uninstallCommand: VwCommand<UninstallArgs, UninstallOptions> = {
  command: 'uninstall',
  describe: 'Run the whole procedure in order, asking before each destructive step; resumes where the cluster stands',
  builder: (y: Argv) =>
    withPlannedFlags(
      withPlanFlags(
        withTimeoutFlag(
          withMutationFlags(withGlobalFlags(y)),
          defaults.timeout.uninstall,
          'How long each step may wait',
        ),
      ),
    )
      .option('helm', { type: 'string', describe: 'Path of the helm binary' })
      .example('kubectl vw uninstall --ttl 8760h', 'The whole procedure, asking before steps 3 and 5')
      .example(
        'kubectl vw uninstall --ttl 8760h --delete-apps --delete-crds --delete-namespace --yes',
        'Wipe, unattended',
      )
      .example('kubectl vw uninstall --skip-backup --dry-run=client', 'What would happen, without final backups')
      .example('kubectl vw uninstall --ttl 8760h --plan-out plan.yaml', 'A plan to review (changes nothing)')
      .example(
        'kubectl vw uninstall --plan plan.yaml --yes',
        'Exactly the approved plan, or a refusal naming what changed',
      ) as unknown as Argv<UninstallArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    dryRun: args['dry-run'],
    yes: args.yes,
    ttl: args.ttl,
    skipBackup: args['skip-backup'] ?? false,
    storageLocation: args['storage-location'] ?? defaults.backup.storageLocation,
    suspendHelmReleases: args['suspend-helmreleases'] ?? false,
    deleteApps: args['delete-apps'] ?? false,
    deleteCrds: args['delete-crds'] ?? false,
    deleteNamespace: args['delete-namespace'] ?? false,
    deleteReleaseCrds: namesList(args['delete-release-crds']),
    timeoutMs: timeoutMs(args.timeout),
    helm: args.helm,
    marginMs: expiryMarginMs(args['expiry-margin'] ?? defaults.backup.expiryMargin),
    veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
    allowShortTtl: args['allow-short-ttl'] ?? false,
    plan: args.plan,
    planOut: args['plan-out'],
    maxPlanAgeMs: requirePositiveDuration('--max-plan-age', args['max-plan-age']),
    given: givenOf(args),
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/uninstall')).runUninstall(o, deps),
};
