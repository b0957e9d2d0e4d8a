import yaml from 'js-yaml';
import type { Argv, CommandModule } from 'yargs';
import { formatDuration, requirePositiveDuration } from '../../lib/duration';
import { ExitCode, UsageError } from '../../lib/errors';
import {
  concurrencyOf,
  type GlobalArgs,
  type MutationArgs,
  type WaitArgs,
  withGlobalFlags,
  withMutationFlags,
  withSelectionFlags,
  withWaitFlags,
} from '../../lib/cli/flags';
import { info, paint, ProgressLine, processIO, warn } from '../../lib/cli/io';
import { type Column, nameOf, printDocument } from '../../lib/cli/output';
import { runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { acquireLock } from '../../lib/kube/lease';
import {
  defaultStorageLocation,
  finalBackupSuffix,
  operatorNamespace,
  resources,
  veleroNamespace,
} from '../../lib/operator/names';
import { requireAccess, requireOperatorCrds } from '../../lib/preflight';
import { applyBackup, type BackupRecord, planBackup, summarizeBackups, waitForBackups } from '../../lib/steps/backup';
import { type SelectionArgs, selectionFromArgs } from '../../lib/steps/selection';

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
  };

const outcomeText: Record<BackupRecord['outcome'], string> = {
  safe: 'safe',
  'no-backup-capability': 'no backup capability',
  failed: 'FAILED',
  'in-progress': 'in progress',
  missing: 'missing',
  'timed-out': 'TIMED OUT',
  error: 'FAILED',
};

const columns: Column<BackupRecord>[] = [
  { header: 'NAMESPACE', value: (r) => r.namespace },
  { header: 'APPLICATION', value: (r) => r.application },
  { header: 'PHASE', value: (r) => r.phase },
  { header: 'REASON', value: (r) => r.reason ?? '' },
  { header: 'VELERO BACKUP', value: (r) => r.backup?.name ?? '' },
  { header: 'BACKUP PHASE', value: (r) => r.backup?.phase ?? '' },
  { header: 'EXPIRES', value: (r) => r.backup?.expiration ?? '' },
  { header: 'DATA', value: (r) => outcomeText[r.outcome] },
  { header: 'OPERATION', value: (r) => r.operation, wide: true },
  { header: 'ACTION', value: (r) => r.action, wide: true },
  { header: 'MESSAGE', value: (r) => r.message ?? '', wide: true },
];

export const backupCommand: CommandModule<object, BackupArgs> = {
  command: 'backup [names..]',
  describe: 'Step 2: take a final Velero backup of every application, wait, and prove it',
  builder: (y: Argv) =>
    withWaitFlags(withMutationFlags(withSelectionFlags(withGlobalFlags(y))), '30m')
      .positional('names', { type: 'string', array: true, describe: 'ApplicationInstance names (in -n NAMESPACE)' })
      .option('ttl', {
        type: 'string',
        describe: 'How long Velero keeps the backups, a Go duration (8760h is a year). Required',
      })
      .option('storage-location', {
        type: 'string',
        default: defaultStorageLocation,
        describe: 'Velero BackupStorageLocation',
      })
      .option('snapshot-volumes', {
        type: 'boolean',
        default: true,
        describe: 'Snapshot persistent volumes (--no-snapshot-volumes to skip)',
      })
      .option('csi-snapshot-class', {
        type: 'string',
        default: 'csi-rbd',
        describe: 'VolumeSnapshotClass for CSI snapshots',
      })
      .option('name-suffix', {
        type: 'string',
        default: finalBackupSuffix,
        describe: 'Operations are named <application>-<suffix>',
      })
      .option('velero-namespace', {
        type: 'string',
        default: veleroNamespace,
        describe: 'Namespace of Velero and its storage locations',
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
      .option('concurrency', { type: 'number', default: 16, describe: 'Requests in flight at once' })
      .example(
        'kubectl vw backup --all --ttl 8760h',
        'Back up every application, keep the backups a year, wait for all of them',
      )
      .example(
        'kubectl vw backup -n shop web --ttl 720h --storage-location aws-dr',
        'One application, to another location',
      )
      .example(
        'kubectl vw pause --all -o name | kubectl vw backup -A -f - --ttl 720h',
        'Back up exactly what pause paused',
      )
      .example(
        "kubectl vw backup --all --ttl 8760h -o json | jq '.items[] | select(.safe | not)'",
        'List applications whose data is not safe',
      ) as unknown as Argv<BackupArgs>,
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runBackup(args)),
};

/** The whole command, callable in-process (kubectl vw uninstall runs the steps this way). */
export async function runBackup(args: BackupArgs): Promise<number> {
  if (!args.ttl) {
    throw new UsageError(
      '--ttl is required: how long should Velero keep the final backups?',
      'e.g. --ttl 8760h (one year) or --ttl 720h (30 days)',
    );
  }
  const concurrency = concurrencyOf(args.concurrency);
  const timeoutMs = requirePositiveDuration('--timeout', args.timeout);
  const session = openSession(args, { concurrency });
  const { client, io } = session;
  const selection = selectionFromArgs(args, session.target.namespace, session.target.namespaceExplicit);
  await requireOperatorCrds(client);
  const scope = selection.allNamespaces ? undefined : selection.namespace;
  const writes = args['dry-run'] !== 'client';
  await requireAccess(client, [
    { verb: 'list', group: resources.applicationInstances.group, resource: 'applicationinstances', namespace: scope },
    { verb: 'get', group: resources.operations.group, resource: 'operations', namespace: scope },
    { verb: 'watch', group: resources.operations.group, resource: 'operations', namespace: scope },
    ...(writes
      ? [{ verb: 'create', group: resources.operations.group, resource: 'operations', namespace: scope }]
      : []),
    ...(args['retry-failed'] && writes
      ? [{ verb: 'delete', group: resources.operations.group, resource: 'operations', namespace: scope }]
      : []),
    { verb: 'get', group: 'velero.io', resource: 'backupstoragelocations', namespace: args['velero-namespace'] },
    { verb: 'get', group: 'velero.io', resource: 'backups', namespace: args['velero-namespace'] },
  ]);
  const plan = await planBackup(client, {
    selection,
    parameters: {
      ttl: args.ttl,
      storageLocation: args['storage-location'],
      snapshotVolumes: args['snapshot-volumes'],
      csiSnapshotClassName: args['csi-snapshot-class'] || undefined,
      nameSuffix: args['name-suffix'],
    },
    veleroNamespace: args['velero-namespace'],
    retryFailed: args['retry-failed'],
    requireAvailableLocation: args['require-available-location'],
  });
  for (const w of plan.warnings) warn(io, w);
  for (const inv of plan.invalid)
    warn(io, `${inv.name} does not match the operator's schema and is skipped: ${inv.error}`);

  if (args['dry-run'] === 'client' || args['dry-run'] === 'server') {
    const applied = await applyBackup(client, plan, { dryRun: args['dry-run'], concurrency, timeoutMs });
    const failed = applied.filter((a) => a.error);
    const manifests = plan.items.filter((i) => i.action !== 'adopt').map((i) => i.manifest);
    if (args.output === 'yaml' || args.output === 'json') {
      const doc = { apiVersion: 'v1', kind: 'List', items: manifests };
      io.out(args.output === 'json' ? JSON.stringify(doc, null, 2) : yaml.dump(doc, { noRefs: true }));
    } else if (args.output === 'name') {
      for (const m of manifests) io.out(nameOf('Operation', m.metadata.name));
    } else {
      for (const a of applied) {
        const verb =
          a.item.action === 'adopt' ? 'would adopt' : a.item.action === 'retry' ? 'would re-create' : 'would create';
        io.out(
          `${a.error ? 'FAILED ' : ''}${verb} operation.ops.vworkspace.io/${a.item.operation} -n ${a.item.namespace}${a.item.note ? ` (${a.item.note})` : ''}${a.error ? `: ${a.error}` : ''}`,
        );
      }
    }
    info(
      io,
      `backup (dry run: ${args['dry-run']}): ${manifests.length} Operations to create, ${plan.items.length - manifests.length} to adopt${failed.length ? `, ${failed.length} rejected by the API server` : ''}`,
    );
    return failed.length || plan.invalid.length ? ExitCode.someFailed : ExitCode.ok;
  }

  const lock = await acquireLock(client, operatorNamespace, 'BackupResult');
  const started = Date.now();
  let records: BackupRecord[];
  let timedOut = false;
  try {
    const applied = await applyBackup(client, plan, { dryRun: 'none', concurrency, timeoutMs });
    for (const a of applied.filter((x) => x.error)) warn(io, `${a.item.namespace}/${a.item.operation}: ${a.error}`);
    const created = applied.filter((a) => !a.error && a.item.action !== 'adopt').length;
    info(
      io,
      `backup: ${created} Operations created, ${applied.length - created} adopted; storage location ${args['storage-location']}, ttl ${args.ttl}`,
    );
    let pending = new Set<string>();
    if (args.wait) {
      const progress = new ProgressLine(io);
      const phases = new Map<string, string>();
      const render = () => {
        const counts: Record<string, number> = {};
        for (const p of phases.values()) counts[p] = (counts[p] ?? 0) + 1;
        const done = (counts.Succeeded ?? 0) + (counts.Failed ?? 0);
        const width = 24;
        const filled = applied.length ? Math.round((done / applied.length) * width) : width;
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
        progress.update(
          `${bar} ${done}/${applied.length}  ${['Pending', 'Running', 'Succeeded', 'Failed'].map((p) => `${p} ${counts[p] ?? 0}`).join('  ')}`,
        );
      };
      const outcome = await waitForBackups(client, applied, {
        namespace: scope,
        timeoutMs,
        onPhase: (key, phase, reason) => {
          phases.set(key, phase);
          if (io.interactive) render();
          else io.err(`${key}: ${phase}${reason ? ` (${reason})` : ''}`);
        },
      });
      progress.done();
      pending = new Set(outcome.pending);
      timedOut = outcome.timedOut;
    }
    records = await summarizeBackups(client, applied, pending);
  } finally {
    await lock?.release();
  }
  printDocument(
    io,
    args.output,
    {
      apiVersion: 'kubectl-vw.vworkspace.io/v1alpha1',
      kind: 'BackupResult',
      context: session.target.context,
      storageLocation: args['storage-location'],
      ttl: args.ttl,
      items: records,
    },
    records,
    columns,
    (r) => nameOf('Operation', r.operation),
  );
  const count = (o: BackupRecord['outcome']) => records.filter((r) => r.outcome === o).length;
  const bad = count('failed') + count('error') + count('missing');
  const summary = `${count('safe')} safe, ${count('no-backup-capability')} without backup capability, ${bad} failed, ${count('timed-out') + count('in-progress')} unfinished in ${formatDuration(Date.now() - started)}`;
  info(io, `backup: ${bad || timedOut ? paint(io, 'red', summary) : summary}`);
  if (bad || plan.invalid.length) return ExitCode.someFailed;
  if (timedOut || count('timed-out') || (!args.wait && count('in-progress'))) {
    if (timedOut)
      warn(
        io,
        `some Operations did not finish within --timeout ${args.timeout}; re-run the same command to keep waiting (nothing is duplicated)`,
      );
    return args.wait ? ExitCode.timeout : ExitCode.ok;
  }
  if (args.strict && count('no-backup-capability')) return ExitCode.someFailed;
  return ExitCode.ok;
}
