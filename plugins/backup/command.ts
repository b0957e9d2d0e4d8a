import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { BackupOptions } from '../../lib/cli/commands/backup';
import { defaults } from '../../lib/cli/defaults';
import {
  concurrencyOf,
  expiryMarginMs,
  type GlobalArgs,
  nameSuffixOf,
  type MutationArgs,
  type SelectionArgs,
  timeoutMs,
  toCommon,
  toSelection,
  type WaitArgs,
  withConcurrencyFlag,
  withExpiryMarginFlag,
  withVeleroNamespaceFlag,
  veleroNamespaceOf,
  withGlobalFlags,
  withMutationFlags,
  withSelectionFlags,
  withWaitFlags,
} from '../../lib/cli/flags';
import { UsageError } from '../../lib/errors';

export type BackupArgs = GlobalArgs &
  MutationArgs &
  WaitArgs &
  SelectionArgs & {
    ttl?: string;
    'storage-location': string;
    'snapshot-volumes': boolean;
    'csi-snapshot-class': string;
    'name-suffix': string;
    'velero-namespace': string;
    'require-available-location': boolean;
    'retry-failed': boolean;
    strict: boolean;
    concurrency: number;
    'expiry-margin': string;
    'allow-short-ttl': boolean;
  };

const b = defaults.backup;

export const backupCommand: VwCommand<BackupArgs, BackupOptions> = {
  command: 'backup [names..]',
  describe: 'Step 2: take a final Velero backup of every application, wait, and prove it',
  builder: (y: Argv) =>
    withVeleroNamespaceFlag(
      withExpiryMarginFlag(
        withConcurrencyFlag(
          withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))), defaults.timeout.backup),
        ),
      ),
    )
      .option('allow-short-ttl', {
        type: 'boolean',
        default: false,
        describe: 'Accept a --ttl shorter than --expiry-margin (such a backup does not count as final)',
      })
      .option('ttl', {
        type: 'string',
        describe: 'How long Velero keeps the backups, a Go duration (8760h is a year). Required',
      })
      .option('storage-location', {
        type: 'string',
        default: b.storageLocation,
        describe: 'Velero BackupStorageLocation',
      })
      .option('snapshot-volumes', {
        type: 'boolean',
        default: b.snapshotVolumes,
        describe: 'Snapshot persistent volumes (--no-snapshot-volumes to skip)',
      })
      .option('csi-snapshot-class', {
        type: 'string',
        default: b.csiSnapshotClass,
        describe: 'VolumeSnapshotClass for CSI snapshots',
      })
      .option('name-suffix', {
        type: 'string',
        default: b.nameSuffix,
        describe: 'Operations are named <application>-<suffix>',
      })
      .option('require-available-location', {
        type: 'boolean',
        default: false,
        describe: 'Refuse unless the storage location is Available',
      })
      .option('retry-failed', {
        type: 'boolean',
        default: false,
        describe: 'Re-create final-backup Operations that Failed (not BackupNotSupported)',
      })
      .option('strict', {
        type: 'boolean',
        default: false,
        describe: 'Exit 1 also when an application has no backup capability',
      })
      .example(
        'kubectl vw backup --ttl 8760h',
        'Back up every application in every namespace, keep the backups a year, wait for all of them',
      )
      .example(
        'kubectl vw backup -n shop web --ttl 720h --storage-location aws-dr',
        'One application, to another location',
      )
      .example(
        'kubectl vw pause --all -o json | kubectl vw backup -f - --ttl 720h',
        'Back up exactly what pause paused, in every namespace (names carry their namespace)',
      )
      .example(
        'kubectl vw pause -n shop --all -o name | kubectl vw backup -n shop -f - --ttl 720h',
        'The same in one namespace (-o name carries no namespace, as with kubectl)',
      )
      .example(
        "kubectl vw backup --all --ttl 8760h -o json | jq '.items[] | select(.safe | not)'",
        'List applications whose data is not safe',
      ) as unknown as Argv<BackupArgs>,
  toOptions: (args) => {
    if (!args.ttl) {
      throw new UsageError(
        '--ttl is required: how long should Velero keep the final backups?',
        'e.g. --ttl 8760h (one year) or --ttl 720h (30 days)',
      );
    }
    return {
      ...toCommon(args),
      // A final backup is additive and step 2 covers every application: no selection means all.
      selection: toSelection(args, true),
      dryRun: args['dry-run'],
      concurrency: concurrencyOf(args.concurrency),
      wait: args.wait,
      timeoutMs: timeoutMs(args.timeout),
      parameters: {
        ttl: args.ttl,
        storageLocation: args['storage-location'],
        snapshotVolumes: args['snapshot-volumes'],
        csiSnapshotClassName: args['csi-snapshot-class'] || undefined,
        nameSuffix: nameSuffixOf(args['name-suffix']),
      },
      veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
      requireAvailableLocation: args['require-available-location'],
      retryFailed: args['retry-failed'],
      strict: args.strict,
      marginMs: expiryMarginMs(args['expiry-margin']),
      allowShortTtl: args['allow-short-ttl'],
    };
  },
  run: async (o, deps) => (await import('../../lib/cli/commands/backup')).runBackup(o, deps),
};
