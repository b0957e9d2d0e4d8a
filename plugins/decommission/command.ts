import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { DecommissionOptions } from '../../lib/cli/commands/decommission';
import { defaults } from '../../lib/cli/defaults';
import {
  expiryMarginMs,
  type GlobalArgs,
  type MutationArgs,
  timeoutMs,
  toCommon,
  type WaitArgs,
  withExpiryMarginFlag,
  withVeleroNamespaceFlag,
  veleroNamespaceOf,
  withGlobalFlags,
  withMutationFlags,
  withWaitFlags,
} from '../../lib/cli/flags';
import { parseGoDuration } from '../../lib/duration';
import { UsageError } from '../../lib/errors';
import { requireNamespaceName } from '../../lib/kube/namespace-name';

const recheckTimeoutMs = (text: string) => {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < 0)
    throw new UsageError(`invalid --recheck-timeout "${text}": expected a Go duration such as 30s, 2m, or 0`);
  return ms;
};
import { operatorNamespace } from '../../lib/operator/names';

export type DecommissionArgs = GlobalArgs &
  MutationArgs &
  WaitArgs & {
    cluster_name?: string;
    'skip-backup-check': boolean;
    'force-preflight': boolean;
    force: boolean;
    'fail-fast': boolean;
    'expiry-margin': string;
    'velero-namespace'?: string;
    'recheck-timeout': string;
  };

export const decommissionCommand: VwCommand<DecommissionArgs, DecommissionOptions> = {
  command: 'decommission [cluster_name]',
  describe: "Step 3: delete the Cluster CR so Odoo revokes the cluster's credential; handle a stuck finalizer",
  builder: (y: Argv) =>
    withVeleroNamespaceFlag(
      withExpiryMarginFlag(withWaitFlags(withMutationFlags(withGlobalFlags(y)), defaults.timeout.decommission)),
    )
      .positional('cluster_name', {
        type: 'string',
        describe: `The Cluster (default: the only one in ${operatorNamespace})`,
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
      .option('recheck-timeout', {
        type: 'string',
        default: defaults.recheckTimeout,
        describe:
          'When the only failing check is one the operator re-evaluates by itself (OdooReachable), wait this long for its next report before refusing (0: refuse at once)',
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
  toOptions: (args) => ({
    ...toCommon(args),
    cluster: args.cluster_name,
    namespace: args.namespace ? requireNamespaceName(args.namespace) : operatorNamespace,
    namespaceExplicit: Boolean(args.namespace),
    dryRun: args['dry-run'],
    yes: args.yes,
    wait: args.wait,
    timeoutMs: timeoutMs(args.timeout),
    skipBackupCheck: args['skip-backup-check'],
    forcePreflight: args['force-preflight'],
    force: args.force,
    failFast: args['fail-fast'],
    marginMs: expiryMarginMs(args['expiry-margin']),
    veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
    recheckTimeoutMs: recheckTimeoutMs(args['recheck-timeout']),
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/decommission')).runDecommission(o, deps),
};
