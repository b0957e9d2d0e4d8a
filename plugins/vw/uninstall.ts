import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { UninstallOptions } from '../../lib/cli/commands/uninstall';
import { defaults } from '../../lib/cli/defaults';
import {
  expiryMarginMs,
  type GlobalArgs,
  namesList,
  type MutationArgs,
  timeoutMs,
  toCommon,
  withExpiryMarginFlag,
  withVeleroNamespaceFlag,
  veleroNamespaceOf,
  withGlobalFlags,
  withMutationFlags,
  withTimeoutFlag,
} from '../../lib/cli/flags';

type UninstallArgs = GlobalArgs &
  MutationArgs & {
    ttl?: string;
    'skip-backup': boolean;
    'suspend-helmreleases': boolean;
    'delete-apps': boolean;
    'delete-crds': boolean;
    'delete-namespace': boolean;
    'delete-release-crds'?: string | string[];
    'storage-location': string;
    timeout: string;
    helm?: string;
    'expiry-margin': string;
    'velero-namespace'?: string;
    'allow-short-ttl': boolean;
  };

export const uninstallCommand: VwCommand<UninstallArgs, UninstallOptions> = {
  command: 'uninstall',
  describe: 'Run the whole procedure in order, asking before each destructive step; resumes where the cluster stands',
  builder: (y: Argv) =>
    withVeleroNamespaceFlag(
      withExpiryMarginFlag(
        withTimeoutFlag(
          withMutationFlags(withGlobalFlags(y)),
          defaults.timeout.uninstall,
          'How long each step may wait',
        ),
      ),
    )
      .option('allow-short-ttl', {
        type: 'boolean',
        default: false,
        describe: 'Accept a --ttl shorter than --expiry-margin',
      })
      .option('ttl', {
        type: 'string',
        describe: 'Final backup retention, a Go duration (e.g. 8760h). Required unless --skip-backup',
      })
      .option('skip-backup', { type: 'boolean', default: false, describe: 'Skip step 2 (no final backups)' })
      .option('storage-location', {
        type: 'string',
        default: defaults.backup.storageLocation,
        describe: 'Velero BackupStorageLocation for step 2',
      })
      .option('suspend-helmreleases', {
        type: 'boolean',
        default: false,
        describe: 'Step 1 also suspends Flux HelmReleases',
      })
      .option('delete-apps', {
        type: 'boolean',
        default: false,
        describe: 'Step 4: delete ApplicationInstances and Operations (and so the apps)',
      })
      .option('delete-crds', { type: 'boolean', default: false, describe: "Step 5: delete the operator's CRDs" })
      .option('delete-namespace', { type: 'boolean', default: false, describe: 'Step 5: delete vworkspace-system' })
      .option('delete-release-crds', {
        // Repeatable and comma-separated; never a greedy array that would swallow the next word.
        type: 'string',
        describe:
          "Step 5: let helm uninstall delete these CRDs of the release besides the operator's (comma-separated)",
      })
      .option('helm', { type: 'string', describe: 'Path of the helm binary' })
      .example('kubectl vw uninstall --ttl 8760h', 'The whole procedure, asking before steps 3 and 5')
      .example(
        'kubectl vw uninstall --ttl 8760h --delete-apps --delete-crds --delete-namespace --yes',
        'Wipe, unattended',
      )
      .example(
        'kubectl vw uninstall --skip-backup --dry-run=client',
        'What would happen, without final backups',
      ) as unknown as Argv<UninstallArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    dryRun: args['dry-run'],
    yes: args.yes,
    ttl: args.ttl,
    skipBackup: args['skip-backup'],
    storageLocation: args['storage-location'],
    suspendHelmReleases: args['suspend-helmreleases'],
    deleteApps: args['delete-apps'],
    deleteCrds: args['delete-crds'],
    deleteNamespace: args['delete-namespace'],
    deleteReleaseCrds: namesList(args['delete-release-crds']),
    timeoutMs: timeoutMs(args.timeout),
    helm: args.helm,
    marginMs: expiryMarginMs(args['expiry-margin']),
    veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
    allowShortTtl: args['allow-short-ttl'],
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/uninstall')).runUninstall(o, deps),
};
