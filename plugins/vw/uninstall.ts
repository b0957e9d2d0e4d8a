import type { Argv, CommandModule } from 'yargs';
import { ExitCode, UsageError } from '../../lib/errors';
import { confirm } from '../../lib/cli/confirm';
import { type GlobalArgs, type MutationArgs, withGlobalFlags, withMutationFlags } from '../../lib/cli/flags';
import { info, paint, processIO } from '../../lib/cli/io';
import { reportError, runAndExit } from '../../lib/cli/run';
import { openSession } from '../../lib/cli/session';
import { validateTtl } from '../../lib/steps/backup';
import { type ProcedureStatus, procedureStatus } from '../../lib/steps/status';
import { runBackup } from '../backup/command';
import { runDecommission } from '../decommission/command';
import { runPause } from '../pause/command';
import { runPurge } from '../purge/command';
import { printStatus } from './status';

type UninstallArgs = GlobalArgs &
  MutationArgs & {
    ttl?: string;
    'skip-backup': boolean;
    'suspend-helmreleases': boolean;
    'delete-apps': boolean;
    'delete-crds': boolean;
    'delete-namespace': boolean;
    'storage-location': string;
    timeout: string;
    helm?: string;
  };

export const uninstallCommand: CommandModule<object, UninstallArgs> = {
  command: 'uninstall',
  describe: 'Run the whole procedure in order, asking before each destructive step; resumes where the cluster stands',
  builder: (y: Argv) =>
    withMutationFlags(withGlobalFlags(y))
      .option('ttl', {
        type: 'string',
        describe: 'Final backup retention, a Go duration (e.g. 8760h). Required unless --skip-backup',
      })
      .option('skip-backup', { type: 'boolean', default: false, describe: 'Skip step 2 (no final backups)' })
      .option('storage-location', {
        type: 'string',
        default: 'aws-primary',
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
      .option('timeout', { type: 'string', default: '30m', describe: 'How long each step may wait' })
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
  handler: (args) => runAndExit(processIO({ verbose: args.verbose }), () => runUninstall(args)),
};

export async function runUninstall(args: UninstallArgs): Promise<number> {
  if (args.output !== 'table')
    throw new UsageError('kubectl vw uninstall prints a narrative; use kubectl vw status -o json for scripts');
  if (!args['skip-backup']) {
    if (!args.ttl)
      throw new UsageError(
        '--ttl is required for the final backups (or pass --skip-backup)',
        'e.g. --ttl 8760h (one year)',
      );
    validateTtl(args.ttl);
  }
  const session = openSession(args);
  const { client, io, target } = session;
  const before = await procedureStatus(client);
  printStatus(io, before, 'table');
  const todo = before.steps.filter((s) => s.state !== 'done' && s.state !== 'skipped');
  if (!todo.length) {
    info(io, 'nothing to do: the procedure is complete on this cluster');
    return ExitCode.ok;
  }
  const common = {
    kubeconfig: args.kubeconfig,
    context: target.context,
    cluster: args.cluster,
    user: args.user,
    'request-timeout': args['request-timeout'],
    verbose: args.verbose,
    output: 'table' as const,
    'dry-run': args['dry-run'],
    concurrency: 16,
  };
  const selectAll = {
    all: true,
    'all-namespaces': true,
    names: [] as string[],
    yes: true,
    wait: true,
    timeout: args.timeout,
  };
  const stepOf = (n: number) => before.steps.find((s) => s.step === n);
  const needed = (n: number) => {
    const s = stepOf(n);
    return s && s.state !== 'done' && s.state !== 'skipped';
  };
  const dry = args['dry-run'] !== 'none';
  if (dry)
    info(io, `dry run (${args['dry-run']}): each step's plan, later steps planned as if the earlier ones had run`);
  // A step's error (preflight refusal, RBAC, ...) stops the run like a non-zero exit does.
  const attempt = async (run: () => Promise<number>) => {
    try {
      return await run();
    } catch (err) {
      return reportError(io, err);
    }
  };
  const stop = async (code: number, step: string, now?: ProcedureStatus) => {
    io.err(paint(io, 'red', `\nstopped at ${step} (exit ${code}); the cluster now stands here:`));
    printStatus(io, now ?? (await procedureStatus(client)), 'table');
    info(io, 'fix what is reported above, then run kubectl vw uninstall again: it resumes from here');
    return code;
  };

  if (needed(1)) {
    info(io, '\n== Step 1: pause reconciliation');
    const code = await attempt(() =>
      runPause({
        ...common,
        ...selectAll,
        'suspend-helmreleases': args['suspend-helmreleases'],
        'all-helmreleases': false,
      }),
    );
    if (code) return stop(code, 'step 1');
  }
  if (needed(2) && !args['skip-backup']) {
    info(io, '\n== Step 2: final backups');
    const code = await attempt(() =>
      runBackup({
        ...common,
        ...selectAll,
        ttl: args.ttl,
        'storage-location': args['storage-location'],
        'snapshot-volumes': true,
        'csi-snapshot-class': 'csi-rbd',
        'name-suffix': 'final-backup',
        'velero-namespace': 'velero',
        'require-available-location': false,
        'retry-failed': stepOf(2)?.state === 'blocked',
        strict: false,
      }),
    );
    if (code) return stop(code, 'step 2');
  }
  if (needed(3)) {
    info(io, '\n== Step 3: delete the Cluster CR (Odoo revokes the credential)');
    if (!dry) await confirm(io, target, 'delete the Cluster CR (step 3)', { yes: args.yes });
    const code = await attempt(() =>
      runDecommission({
        ...common,
        yes: true,
        wait: true,
        timeout: args.timeout,
        'skip-backup-check': args['skip-backup'],
        // A dry run plans step 3 as if steps 1 and 2 had run; a real run never skips the checks.
        'force-preflight': dry,
        force: false,
        'fail-fast': false,
      }),
    );
    if (code) return stop(code, 'step 3');
  }
  if (needed(4) || needed(5) || args['delete-crds'] || args['delete-namespace']) {
    info(
      io,
      `\n== Step${args['delete-apps'] ? 's 4 and' : ''} 5: ${args['delete-apps'] ? 'delete remaining CRs, ' : ''}helm uninstall`,
    );
    const code = await attempt(() =>
      runPurge({
        ...common,
        yes: args.yes,
        'delete-apps': args['delete-apps'],
        'keep-apps': !args['delete-apps'],
        'skip-backup-check': args['skip-backup'],
        'delete-crds': args['delete-crds'],
        'delete-namespace': args['delete-namespace'],
        'force-preflight': dry,
        helm: args.helm,
        report: false,
        timeout: args.timeout,
      }),
    );
    if (code) {
      // Name the step that stopped: step 4 when its deletions are under way (a finalizer holds some).
      const now = await procedureStatus(client);
      const step4 = now.steps.find((x) => x.step === 4)?.state;
      const where =
        step4 === 'in progress' ? 'step 4' : args['delete-apps'] && step4 !== 'done' ? 'steps 4 and 5' : 'step 5';
      return stop(code, where, now);
    }
  }
  if (!dry) {
    info(io, '\n== Done');
    printStatus(io, await procedureStatus(client), 'table');
  }
  return ExitCode.ok;
}
