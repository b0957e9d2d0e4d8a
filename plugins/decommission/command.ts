import type { Argv, CommandModule } from 'yargs';
import { formatDuration, requirePositiveDuration } from '../../lib/duration';
import { ExitCode, PreflightError, UsageError } from '../../lib/errors';
import { confirm } from '../../lib/cli/confirm';
import {
  type GlobalArgs,
  type MutationArgs,
  type WaitArgs,
  withGlobalFlags,
  withMutationFlags,
  withWaitFlags,
} from '../../lib/cli/flags';
import { info, paint, processIO, warn, type IO } from '../../lib/cli/io';
import { printDocument } from '../../lib/cli/output';
import { runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { acquireLock } from '../../lib/kube/lease';
import type { KubeObject } from '../../lib/kube/resources';
import { waitForObjects } from '../../lib/kube/watch';
import { operatorNamespace, resources } from '../../lib/operator/names';
import { type Cluster, clusterSchema, findCondition } from '../../lib/operator/schemas';
import { requireAccess, requireNamespace, requireOperatorCrds } from '../../lib/preflight';
import {
  clusterKey,
  hasFinalizer,
  manualRevocation,
  planDecommission,
  type PreflightCheck,
  readDecommissionRecord,
  recordForcedRemoval,
  writeDecommissionRecord,
  removeFinalizer,
  waysOut,
} from '../../lib/steps/decommission';

export type DecommissionArgs = GlobalArgs &
  MutationArgs &
  WaitArgs & {
    cluster_name?: string;
    'skip-backup-check': boolean;
    'force-preflight': boolean;
    force: boolean;
    'fail-fast': boolean;
  };

type Outcome = 'decommissioned' | 'already-gone' | 'planned' | 'validated' | 'blocked' | 'timed-out' | 'forced';

function printChecks(io: IO, checks: PreflightCheck[]) {
  for (const c of checks) {
    io.err(`  ${c.ok ? paint(io, 'green', 'ok ') : paint(io, 'red', 'NO ')} ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) io.err(`      fix: ${c.fix}`);
  }
}

const conditionLine = (c: { type: string; status: string; reason?: string; message?: string }) =>
  `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;

export const decommissionCommand: CommandModule<object, DecommissionArgs> = {
  command: 'decommission [cluster_name]',
  describe: "Step 3: delete the Cluster CR so Odoo revokes the cluster's credential; handle a stuck finalizer",
  builder: (y: Argv) =>
    withWaitFlags(withMutationFlags(withGlobalFlags(y)), '5m')
      .positional('cluster_name', {
        type: 'string',
        describe: 'The Cluster (default: the only one in vworkspace-system)',
      })
      .option('skip-backup-check', {
        type: 'boolean',
        default: false,
        describe: 'Do not require a final backup of every application',
      })
      .option('force-preflight', { type: 'boolean', default: false, describe: 'Go on even when preflight checks fail' })
      .option('force', {
        type: 'boolean',
        default: false,
        describe:
          'Remove the finalizer of a Cluster already being deleted (Odoo permanently gone); you must then revoke by hand',
      })
      .option('fail-fast', {
        type: 'boolean',
        default: false,
        describe: 'Stop waiting (exit 4) as soon as the operator reports OdooUnreachable',
      })
      .example('kubectl vw decommission', 'Delete the only Cluster and follow its finalizer until Odoo acknowledged')
      .example('kubectl vw decommission cluster-prod-1 --dry-run=client', 'Show the preflight checks and the plan')
      .example(
        'kubectl vw decommission cluster-prod-1 --force',
        'Odoo is gone for good: drop the stuck finalizer (asks you to type the name)',
      ) as unknown as Argv<DecommissionArgs>,
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runDecommission(args)),
};

/** The whole command, callable in-process (kubectl vw uninstall runs the steps this way). */
export async function runDecommission(args: DecommissionArgs): Promise<number> {
  const timeoutMs = requirePositiveDuration('--timeout', args.timeout);
  const session = openSession({ ...args, namespace: args.namespace ?? operatorNamespace });
  const { client, io, target } = session;
  const namespace = args.namespace ?? operatorNamespace;
  await requireOperatorCrds(client);
  // An explicit -n must exist; the default namespace gone means the operator is gone (step 3 done).
  if (args.namespace) await requireNamespace(client, namespace);
  const writes = args['dry-run'] !== 'client';
  await requireAccess(client, [
    { verb: 'list', group: resources.clusters.group, resource: 'clusters', namespace },
    { verb: 'watch', group: resources.clusters.group, resource: 'clusters', namespace },
    ...(writes
      ? [
          { verb: 'delete', group: resources.clusters.group, resource: 'clusters', namespace },
          // The step 3 record, written before the Cluster is deleted.
          { verb: 'create', group: '', resource: 'configmaps', namespace },
          { verb: 'patch', group: '', resource: 'configmaps', namespace },
        ]
      : []),
    ...(args.force && writes
      ? [
          { verb: 'patch', group: resources.clusters.group, resource: 'clusters', namespace },
          { verb: 'create', group: '', resource: 'events', namespace },
        ]
      : []),
  ]);
  const plan = await planDecommission(client, {
    namespace,
    name: args.cluster_name,
    skipBackupCheck: args['skip-backup-check'],
  });
  const report = (outcome: Outcome, cluster?: Cluster, extra: Record<string, unknown> = {}) =>
    printDocument(
      io,
      args.output,
      {
        apiVersion: 'kubectl-vw.vworkspace.io/v1alpha1',
        kind: 'DecommissionResult',
        context: target.context,
        namespace,
        cluster: cluster?.metadata.name ?? args.cluster_name ?? null,
        clusterID: cluster?.status?.clusterID ?? null,
        outcome,
        checks: plan.checks,
        ...extra,
      },
      [{ outcome, cluster }],
      [
        { header: 'CLUSTER', value: (r) => r.cluster?.metadata.name ?? args.cluster_name ?? '' },
        { header: 'CLUSTER ID', value: (r) => r.cluster?.status?.clusterID ?? '' },
        { header: 'OUTCOME', value: (r) => r.outcome },
      ],
      (r) => `cluster.ops.vworkspace.io/${r.cluster?.metadata.name ?? args.cluster_name ?? ''}`,
    );

  if (plan.alreadyGone || !plan.cluster) {
    info(
      io,
      `no Cluster${args.cluster_name ? ` "${args.cluster_name}"` : ''} in namespace ${namespace}: step 3 is done`,
    );
    const record = await readDecommissionRecord(client, namespace);
    const forced = record?.outcome === 'forced' ? record : undefined;
    if (forced)
      warn(
        io,
        `its finalizer was removed by force at ${forced.forcedAt}: credential of cluster ID ${forced.clusterID} was NOT revoked in Odoo`,
      );
    report('already-gone', undefined, { record: record ?? null });
    return ExitCode.ok;
  }
  const cluster = plan.cluster;
  const deleting = Boolean(cluster.metadata.deletionTimestamp);

  if (args.force) {
    if (!deleting) {
      throw new UsageError(
        `Cluster ${cluster.metadata.name} is not being deleted: --force only removes the finalizer of a Cluster whose deletion is stuck`,
        `run first: kubectl vw decommission ${cluster.metadata.name} -n ${namespace}`,
      );
    }
    if (!hasFinalizer(cluster as KubeObject)) {
      info(io, `Cluster ${cluster.metadata.name} has no decommission finalizer left; waiting for it to go`);
    } else {
      io.err(
        paint(
          io,
          'red',
          `Forcing removes finalizer ops.vworkspace.io/decommission: Odoo will NOT revoke the credential of cluster ID ${cluster.status?.clusterID ?? 'unknown'}.`,
        ),
      );
      io.err(manualRevocation(cluster));
      if (args['dry-run'] === 'client') {
        report('planned', cluster, { manualActions: [manualRevocation(cluster)] });
        return ExitCode.ok;
      }
      if (args['dry-run'] === 'none') {
        await confirm(io, target, `force-remove the finalizer of Cluster ${cluster.metadata.name}`, {
          yes: args.yes,
          typeToConfirm: cluster.metadata.name,
        });
      }
      const lock = args['dry-run'] === 'none' ? await acquireLock(client, namespace, 'DecommissionForce') : undefined;
      try {
        if (args['dry-run'] === 'none') await recordForcedRemoval(client, cluster);
        await removeFinalizer(client, cluster as KubeObject, args['dry-run'] === 'server');
      } finally {
        await lock?.release();
      }
      if (args['dry-run'] === 'server') {
        report('validated', cluster, { manualActions: [manualRevocation(cluster)] });
        return ExitCode.ok;
      }
    }
    const gone = await waitForObjects(client, resources.clusters, [clusterKey(cluster)], (o) => !o, {
      namespace,
      timeoutMs,
    });
    warn(io, `finalizer removed by force; the credential was not revoked server-side. ${manualRevocation(cluster)}`);
    report('forced', cluster, { manualActions: [manualRevocation(cluster)], gone: !gone.timedOut });
    return gone.timedOut ? ExitCode.timeout : ExitCode.ok;
  }

  if (!deleting) {
    info(
      io,
      `preflight for deleting Cluster ${namespace}/${cluster.metadata.name} (cluster ID ${cluster.status?.clusterID ?? 'unknown'}):`,
    );
    printChecks(io, plan.checks);
    const failed = plan.checks.filter((c) => !c.ok);
    if (failed.length && !args['force-preflight']) {
      throw new PreflightError(
        `${failed.length} preflight check${failed.length > 1 ? 's' : ''} failed (${failed.map((c) => c.name).join(', ')}); nothing was deleted`,
        'fix them with the commands above, or pass --force-preflight to go on anyway',
      );
    }
    if (failed.length)
      warn(io, `going on despite failed checks (--force-preflight): ${failed.map((c) => c.name).join(', ')}`);
    if (args['dry-run'] === 'client') {
      io.err(`would delete cluster.ops.vworkspace.io/${cluster.metadata.name} -n ${namespace}`);
      report('planned', cluster);
      return ExitCode.ok;
    }
    if (args['dry-run'] === 'server') {
      await client.delete(resources.clusters, cluster.metadata.name, namespace, { dryRun: true });
      report('validated', cluster);
      return ExitCode.ok;
    }
    await confirm(io, target, `delete Cluster ${cluster.metadata.name} (Odoo then revokes its credential)`, {
      yes: args.yes,
    });
    const lock = await acquireLock(client, namespace, 'DecommissionResult');
    try {
      // Recorded first: once the Cluster is gone, its ID lives only here (and in Odoo).
      await writeDecommissionRecord(client, cluster, { outcome: 'in-progress' });
      await client.delete(resources.clusters, cluster.metadata.name, namespace);
    } finally {
      await lock?.release();
    }
    info(io, `deleted Cluster ${cluster.metadata.name}; following the operator's finalizer`);
  } else {
    info(
      io,
      `Cluster ${cluster.metadata.name} is already being deleted (since ${cluster.metadata.deletionTimestamp}); following its finalizer`,
    );
  }
  if (!args.wait) {
    report('planned', cluster);
    return ExitCode.ok;
  }

  // Follow the Cluster until it is gone, echoing each condition the operator changes.
  const started = Date.now();
  const seen = new Map<string, string>();
  let latest: Cluster = cluster;
  let blocked = false;
  const controller = { stop: false };
  const outcome = await waitForObjects(
    client,
    resources.clusters,
    [clusterKey(cluster)],
    (obj) => {
      if (!obj) return true;
      const parsed = clusterSchema.safeParse(obj);
      if (parsed.success) {
        latest = parsed.data;
        const d = findCondition(latest.status?.conditions, 'Decommissioning');
        if (args['fail-fast'] && d?.status === 'False' && d.reason === 'OdooUnreachable') controller.stop = true;
      }
      return controller.stop;
    },
    {
      namespace,
      timeoutMs,
      onChange: (_k, obj) => {
        if (!obj) return;
        for (const c of latest.status?.conditions ?? []) {
          const line = conditionLine(c);
          if (seen.get(c.type) !== line) {
            seen.set(c.type, line);
            io.err(`  ${formatDuration(Date.now() - started).padStart(4)}  ${line}`);
          }
        }
      },
    },
  );
  const stillThere = outcome.timedOut || controller.stop;
  if (!stillThere) {
    const record = await readDecommissionRecord(client, namespace).catch(() => undefined);
    if (record?.outcome === 'forced') {
      warn(
        io,
        `Cluster ${cluster.metadata.name} is gone, but its finalizer was removed by force at ${record.forcedAt}: the credential was NOT revoked`,
      );
      report('forced', latest, { manualActions: [manualRevocation(latest)] });
      return ExitCode.ok;
    }
    await writeDecommissionRecord(client, latest, {
      outcome: 'decommissioned',
      finishedAt: new Date().toISOString(),
    }).catch((err) => warn(io, `could not record the decommission: ${(err as Error).message}`));
    info(
      io,
      `Cluster ${cluster.metadata.name} is gone: Odoo acknowledged the decommission and revoked the credential (${formatDuration(Date.now() - started)})`,
    );
    report('decommissioned', latest);
    return ExitCode.ok;
  }
  const d = findCondition(latest.status?.conditions, 'Decommissioning');
  blocked = d?.status === 'False';
  io.err(
    paint(
      io,
      'red',
      `Cluster ${cluster.metadata.name} is still there after ${formatDuration(Date.now() - started)}: the finalizer has not drained.`,
    ),
  );
  if (d) io.err(`  operator says: ${conditionLine(d)}`);
  io.err('Two ways out:');
  for (const w of waysOut(latest)) io.err(`  ${w}`);
  report(blocked ? 'blocked' : 'timed-out', latest, { condition: d ?? null, waysOut: waysOut(latest) });
  return ExitCode.timeout;
}
