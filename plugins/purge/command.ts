import type { Argv, CommandModule } from 'yargs';
import { requirePositiveDuration } from '../../lib/duration';
import { ExitCode, PreflightError } from '../../lib/errors';
import { confirm } from '../../lib/cli/confirm';
import { type GlobalArgs, type MutationArgs, withGlobalFlags, withMutationFlags } from '../../lib/cli/flags';
import { info, type IO, paint, processIO, warn } from '../../lib/cli/io';
import { nameOf, printDocument, renderTable } from '../../lib/cli/output';
import { runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { acquireLock } from '../../lib/kube/lease';
import { operatorNamespace, resources } from '../../lib/operator/names';
import { requireAccess } from '../../lib/preflight';
import { readDecommissionRecord } from '../../lib/steps/decommission';
import { type PersistsReport, persistsReport } from '../../lib/steps/persists';
import {
  deleteCrds,
  deleteOperatorNamespace,
  deleteRemainingCrs,
  findHelm,
  helmUninstall,
  type PhaseEvents,
  type PurgePlan,
  planPurge,
} from '../../lib/steps/purge';

export type PurgeArgs = GlobalArgs &
  MutationArgs & {
    'delete-apps': boolean;
    'keep-apps': boolean;
    'skip-backup-check': boolean;
    'delete-crds': boolean;
    'delete-namespace': boolean;
    'force-preflight': boolean;
    helm?: string;
    report: boolean;
    timeout: string;
    concurrency: number;
  };

export function printPlan(io: IO, plan: PurgePlan) {
  for (const c of plan.checks) {
    io.err(`  ${c.ok ? paint(io, 'green', 'ok ') : paint(io, 'red', 'NO ')} ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) io.err(`      fix: ${c.fix}`);
  }
  for (const p of plan.phases) {
    const counts = Object.entries(p.counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    io.err(
      `  ${p.done ? '[done]' : '[todo]'} ${p.title}${counts ? `: deletes ${counts}` : ''}${p.note ? ` (${p.note})` : ''}`,
    );
  }
}

export function printPersists(io: IO, report: PersistsReport, format: string) {
  if (format === 'json' || format === 'yaml') return;
  io.out('What persists after uninstall:');
  io.out(
    renderTable(
      report.rows,
      [
        { header: 'RESOURCE', value: (r) => r.resource },
        { header: 'PERSISTS', value: (r) => r.persists },
        { header: 'ON THIS CLUSTER', value: (r) => r.facts.join('\n') },
        { header: 'HOW TO FULLY PURGE', value: (r) => r.purge },
      ],
      io,
      false,
    ),
  );
}

export const purgeCommand: CommandModule<object, PurgeArgs> = {
  command: 'purge',
  describe:
    'Steps 4 and 5: remove the operator (helm uninstall), optionally its CRs, CRDs and namespace; report what persists',
  builder: (y: Argv) =>
    withMutationFlags(withGlobalFlags(y))
      .option('delete-apps', {
        type: 'boolean',
        default: false,
        describe: 'Step 4: delete remaining ApplicationInstances and Operations (their apps go too)',
      })
      .option('keep-apps', {
        type: 'boolean',
        default: true,
        describe: 'Default: keep applications running; their HelmReleases become orphans',
      })
      .option('skip-backup-check', {
        type: 'boolean',
        default: false,
        describe: 'Delete apps even without a Succeeded final backup',
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
      .option('timeout', { type: 'string', default: '10m', describe: 'How long to wait for each deletion' })
      .option('concurrency', { type: 'number', default: 16, describe: 'Requests in flight at once' })
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
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runPurge(args)),
};

/** The whole command, callable in-process (kubectl vw uninstall runs the steps this way). */
export async function runPurge(args: PurgeArgs): Promise<number> {
  const timeoutMs = requirePositiveDuration('--timeout', args.timeout);
  const session = openSession(args, { concurrency: args.concurrency });
  const { client, io, target } = session;
  const doc = (extra: Record<string, unknown>) => ({
    apiVersion: 'kubectl-vw.vworkspace.io/v1alpha1',
    kind: 'PurgeResult',
    context: target.context,
    ...extra,
  });

  if (args.report) {
    const report = await persistsReport(client);
    printPersists(io, report, args.output);
    printDocument(io, args.output === 'name' ? 'table' : args.output, doc({ persists: report }), [], [], () => '');
    return ExitCode.ok;
  }

  const opts = {
    deleteApps: args['delete-apps'],
    skipBackupCheck: args['skip-backup-check'],
    deleteCrds: args['delete-crds'],
    deleteNamespace: args['delete-namespace'],
    forcePreflight: args['force-preflight'],
  };
  if (args['dry-run'] !== 'client') {
    // helm uninstall needs to delete what the chart rendered and its release Secrets; checked up front.
    await requireAccess(client, [
      { verb: 'delete', group: '', resource: 'secrets', namespace: operatorNamespace },
      { verb: 'delete', group: 'apps', resource: 'deployments', namespace: operatorNamespace },
      ...(opts.deleteApps
        ? [
            { verb: 'delete', group: resources.applicationInstances.group, resource: 'applicationinstances' },
            { verb: 'delete', group: resources.operations.group, resource: 'operations' },
          ]
        : []),
      ...(opts.deleteCrds
        ? [{ verb: 'delete', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' }]
        : []),
      ...(opts.deleteNamespace ? [{ verb: 'delete', group: '', resource: 'namespaces' }] : []),
    ]);
  }
  const plan = await planPurge(client, opts);
  // Read before --delete-namespace takes it away: the report still names the cluster's Odoo record.
  const decommission = await readDecommissionRecord(client, operatorNamespace).catch(() => undefined);
  info(io, `purge plan for context "${target.context}" (cluster "${target.cluster}"):`);
  printPlan(io, plan);
  if (!opts.deleteApps && plan.orphanedHelmReleases) {
    warn(
      io,
      `--keep-apps: ${plan.orphanedHelmReleases} HelmReleases stay and will be orphaned once Flux is uninstalled with the bundle; their applications keep running`,
    );
  }
  const clusterCheck = plan.checks.find((c) => c.name.startsWith('Cluster CR'));
  if (clusterCheck && !clusterCheck.ok) {
    if (!opts.forcePreflight) {
      throw new PreflightError(
        `${clusterCheck.detail}: run step 3 first; nothing was deleted`,
        'kubectl vw decommission   (or --force-preflight to go on anyway)',
      );
    }
    warn(
      io,
      `--force-preflight: ${clusterCheck.detail}; uninstalling the operator now leaves its credential valid in Odoo`,
    );
  }
  const backupCheck = plan.checks.find((c) => c.name === 'final backups');
  if (backupCheck && !backupCheck.ok) {
    throw new PreflightError(
      `refusing --delete-apps: ${backupCheck.detail}`,
      `${backupCheck.fix ?? ''}; or pass --skip-backup-check`,
    );
  }
  const crdPhase = plan.phases.find((p) => p.id === 'step5-delete-crds');
  const remaining = Object.values(plan.remainingCrs).reduce((a, b) => a + b, 0);
  if (crdPhase && !crdPhase.done && !opts.deleteApps && remaining > 0) {
    throw new PreflightError(
      `refusing --delete-crds: ${Object.entries(plan.remainingCrs)
        .filter(([, n]) => n)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')} still exist, and deleting a CRD deletes every object of its kind`,
      'add --delete-apps (step 4) to remove them first, or keep the CRDs',
    );
  }
  const helmPhase = plan.phases.find((p) => p.id === 'step5-helm-uninstall');
  const helm = helmPhase && !helmPhase.done ? findHelm(args.helm) : undefined;
  const todo = plan.phases.filter((p) => !p.done);

  if (args['dry-run'] === 'client' || !todo.length) {
    if (!todo.length) info(io, 'nothing left to purge: every phase is done');
    printDocument(io, args.output, doc({ dryRun: args['dry-run'], plan }), [], [], () => '');
    if (!todo.length) {
      const report = await persistsReport(client, { decommission });
      printPersists(io, report, args.output);
    }
    return ExitCode.ok;
  }
  const serverDry = args['dry-run'] === 'server';
  if (!serverDry) {
    await confirm(io, target, `purge the vworkspace operator (${todo.map((p) => p.id).join(', ')})`, {
      yes: args.yes,
      typeToConfirm: target.cluster,
    });
  }
  const deleted: { kind: string; name: string; namespace?: string; result: string; message?: string }[] = [];
  const ev: PhaseEvents = {
    log: (l) => info(io, `  ${l}`),
    helmOutput: (c) => process.stderr.write(c),
    deleted: (row) => {
      deleted.push(row);
      // kubectl delete's line per object; data, so stdout (JSON and YAML carry them as items).
      if (args.output === 'table' || args.output === 'wide' || args.output === 'name') {
        io.out(
          `${nameOf(row.kind, row.name)}${row.namespace ? ` -n ${row.namespace}` : ''} ${row.result}${serverDry ? ' (server dry run)' : ''}${row.message && row.result === 'failed' ? `: ${row.message}` : ''}`,
        );
      }
    },
  };
  const lock =
    serverDry || !plan.namespacePresent ? undefined : await acquireLock(client, operatorNamespace, 'PurgeResult');
  const done: string[] = [];
  try {
    for (const phase of todo) {
      info(io, phase.title);
      if (phase.id === 'step4-delete-crs')
        await deleteRemainingCrs(client, { dryRun: serverDry, timeoutMs, concurrency: args.concurrency }, ev);
      if (phase.id === 'step5-helm-uninstall' && helm) {
        const kubeconfigPath = args.kubeconfig;
        await helmUninstall(
          helm,
          { kubeconfigPath, context: target.context },
          { dryRun: serverDry, timeoutMs },
          ev,
          plan.release,
        );
      }
      if (phase.id === 'step5-delete-crds') await deleteCrds(client, { dryRun: serverDry, timeoutMs }, ev);
      if (phase.id === 'step5-delete-namespace') {
        // The lock lives in this namespace: let it go before the namespace does.
        await lock?.release();
        await deleteOperatorNamespace(client, { dryRun: serverDry, timeoutMs }, ev);
      }
      done.push(phase.id);
    }
  } finally {
    await lock?.release();
  }
  const report = await persistsReport(client, { decommission });
  printPersists(io, report, args.output);
  printDocument(
    io,
    args.output === 'name' ? 'table' : args.output,
    doc({ dryRun: args['dry-run'], plan, completed: done, items: deleted, persists: report }),
    [],
    [],
    () => '',
  );
  info(io, `purge${serverDry ? ' (dry run: server)' : ''}: ${done.length} phases completed`);
  return ExitCode.ok;
}
